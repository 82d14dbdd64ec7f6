//! Little-endian field packing for command bodies, and the status codes (protocol.md §3).

/// A response's status code (protocol.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StatusCode {
    /// Done.
    Ok = 0,
    /// The body's length does not fit the command.
    BadLength = 1,
    /// No such command code.
    UnknownCommand = 2,
    /// An address range outside device memory or scratchpad capacity.
    OutOfRange = 3,
    /// An argument outside its domain.
    BadArgument = 4,
    /// The device is executing and cannot take this command.
    Busy = 5,
    /// The host's protocol version is not supported.
    BadVersion = 6,
}

impl StatusCode {
    /// The code for a status byte, if it is one.
    pub fn from_u8(v: u8) -> Option<StatusCode> {
        use StatusCode::*;
        [
            Ok,
            BadLength,
            UnknownCommand,
            OutOfRange,
            BadArgument,
            Busy,
            BadVersion,
        ]
        .get(usize::from(v))
        .copied()
    }

    /// The name protocol.md gives it.
    pub fn name(self) -> &'static str {
        match self {
            StatusCode::Ok => "OK",
            StatusCode::BadLength => "BAD_LENGTH",
            StatusCode::UnknownCommand => "UNKNOWN_COMMAND",
            StatusCode::OutOfRange => "OUT_OF_RANGE",
            StatusCode::BadArgument => "BAD_ARGUMENT",
            StatusCode::Busy => "BUSY",
            StatusCode::BadVersion => "BAD_VERSION",
        }
    }
}

impl std::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), *self as u8)
    }
}

/// Appends little-endian fields to a body.
#[derive(Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub(crate) fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn i16(&mut self, v: i16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
}

/// Reads little-endian fields from a body whose length was checked beforehand.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        head.try_into().expect("split_at gave N bytes")
    }
    pub(crate) fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    pub(crate) fn i16(&mut self) -> i16 {
        i16::from_le_bytes(self.take())
    }
    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    pub(crate) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}
