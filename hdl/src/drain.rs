//! The tile drain: replays each finished tile as one event per row and turns the events into
//! the C write commands of every column (docs/hardware.md, "Drain").

use crate::column_convert::HEAD_LATENCY;
use crate::macc::MACC_LATENCY;
use crate::SCRATCH_ADDR_BITS as AB;
use rust_hdl::prelude::*;

/// Stages of the tile-info pipeline between the issue of a tile's last beat and the cycle
/// before its drain (whose first event is one cycle later still): one more than the PE's
/// latency, which delays every sum.
pub const TILE_INFO_STAGES: usize = MACC_LATENCY + 1;

/// Cycles from the issue of a tile's last beat (`tile_last` high) to its first event (`ev`).
pub const FIRST_EVENT_DELAY: usize = TILE_INFO_STAGES + 1;

const _: () = assert!(
    HEAD_LATENCY == 1,
    "the write command waits one register per head stage"
);

/// The drain of `GemmCore<R, C>`'s controller.
///
/// The controller presents a tile's info with the issue of its last beat. The drain delays it
/// by [`TILE_INFO_STAGES`] registers, marks the tile (`col_load`), and then raises `ev` in
/// `R` cycles two apart, one per row of the tile, row 0 first. Each event produces column 0's
/// C write command (address `tile_cbase + p * stride` for row `p`, enabled for the tile's
/// valid rows only), which reaches the C bank of column `q` after `HEAD_LATENCY + 1 + q`
/// more cycles, when that column's head has converted the row. Each event also reads the
/// row's `C_in` from column 0's C bank, which answers in the cycle the row's sum reaches the
/// head.
#[derive(LogicBlock)]
pub struct Drain<const R: usize, const C: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// A tile's last beat is issued this cycle; the `tile_*` inputs describe the tile.
    pub tile_last: Signal<In, Bit>,
    /// The tile is the last column tile of its row tile.
    pub tile_rowend: Signal<In, Bit>,
    /// The C address of the tile's row 0.
    pub tile_cbase: Signal<In, Bits<AB>>,
    /// The tile's valid rows (1 ..= R, R <= 128): rows at or beyond it are not written.
    pub tile_rows: Signal<In, Bits<9>>,
    /// The C address step from one row to the next (`ceil(N / C)`); must hold while draining.
    pub stride: Signal<In, Bits<AB>>,
    /// Marks a tile one cycle before its first event.
    pub col_load: Signal<Out, Bit>,
    /// One row of the tile reaches column 0's head next cycle.
    pub ev: Signal<Out, Bit>,
    /// The event is the tile's row 0.
    pub ev_first: Signal<Out, Bit>,
    /// The event is the tile's row R-1.
    pub ev_lastrow: Signal<Out, Bit>,
    /// The event's tile is the last column tile of its row tile (held between tiles).
    pub ev_rowend: Signal<Out, Bit>,
    /// Write enable of C bank `q`.
    pub c_we: Vec<Signal<Out, Bit>>,
    /// Write address of C bank `q`.
    pub c_addr: Vec<Signal<Out, Bits<AB>>>,
    /// Read address of C bank `q`: the C address of the row whose sum reaches column `q`'s
    /// head next cycle (event cycle + `q`), when the bank's `C_in` answers.
    pub c_rd_addr: Vec<Signal<Out, Bits<AB>>>,
    ti_valid: Vec<DFF<Bit>>,
    ti_rowend: Vec<DFF<Bit>>,
    ti_cbase: Vec<DFF<Bits<AB>>>,
    ti_rows: Vec<DFF<Bits<9>>>,
    // The events.
    ev_reg: DFF<Bit>,
    ev_first_reg: DFF<Bit>,
    ev_lastrow_reg: DFF<Bit>,
    ev_rowend_reg: DFF<Bit>,
    ev_we: DFF<Bit>,
    ev_addr: DFF<Bits<AB>>,
    dr_addr: DFF<Bits<AB>>,
    dr_left: DFF<Bits<9>>,
    dr_wleft: DFF<Bits<9>>,
    dr_gap: DFF<Bit>,
    // Write command of column 0, delayed by the column head's latency (one register).
    wd_we: DFF<Bit>,
    wd_addr: DFF<Bits<AB>>,
    // Write command chain: stage q is column q's write this cycle.
    wch_we: Vec<DFF<Bit>>,
    wch_addr: Vec<DFF<Bits<AB>>>,
    // Read address chain: stage q is column q + 1's read this cycle.
    rch_addr: Vec<DFF<Bits<AB>>>,
    zero9: Constant<Bits<9>>,
    one9: Constant<Bits<9>>,
    rows_minus1: Constant<Bits<9>>,
}

fn many<T: Default>(n: usize) -> Vec<T> {
    (0..n).map(|_| T::default()).collect()
}

impl<const R: usize, const C: usize> Default for Drain<R, C> {
    fn default() -> Self {
        assert!((1..=128).contains(&R) && (1..=128).contains(&C));
        Drain {
            clock: Default::default(),
            tile_last: Default::default(),
            tile_rowend: Default::default(),
            tile_cbase: Default::default(),
            tile_rows: Default::default(),
            stride: Default::default(),
            col_load: Default::default(),
            ev: Default::default(),
            ev_first: Default::default(),
            ev_lastrow: Default::default(),
            ev_rowend: Default::default(),
            c_we: many(C),
            c_addr: many(C),
            c_rd_addr: many(C),
            ti_valid: many(TILE_INFO_STAGES),
            ti_rowend: many(TILE_INFO_STAGES),
            ti_cbase: many(TILE_INFO_STAGES),
            ti_rows: many(TILE_INFO_STAGES),
            ev_reg: Default::default(),
            ev_first_reg: Default::default(),
            ev_lastrow_reg: Default::default(),
            ev_rowend_reg: Default::default(),
            ev_we: Default::default(),
            ev_addr: Default::default(),
            dr_addr: Default::default(),
            dr_left: Default::default(),
            dr_wleft: Default::default(),
            dr_gap: Default::default(),
            wd_we: Default::default(),
            wd_addr: Default::default(),
            wch_we: many(C),
            wch_addr: many(C),
            rch_addr: many(C - 1),
            zero9: Constant::new(bits(0)),
            one9: Constant::new(bits(1)),
            rows_minus1: Constant::new(bits((R - 1) as u64)),
        }
    }
}

impl<const R: usize, const C: usize> Logic for Drain<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            ev_reg,
            ev_first_reg,
            ev_lastrow_reg,
            ev_rowend_reg,
            ev_we,
            ev_addr,
            dr_addr,
            dr_left,
            dr_wleft,
            dr_gap
        );
        self.ev.next = self.ev_reg.q.val();
        self.ev_first.next = self.ev_first_reg.q.val();
        self.ev_lastrow.next = self.ev_lastrow_reg.q.val();
        self.ev_rowend.next = self.ev_rowend_reg.q.val();

        // A tile's sums reach column 0's head two cycles apart, row 0 first, from
        // TILE_INFO_STAGES + 2 cycles after the issue of its last beat (docs/hardware.md).
        // The events come one cycle before each of them: the row's C_in is read then.
        for i in 0..TILE_INFO_STAGES {
            self.ti_valid[i].clock.next = self.clock.val();
            self.ti_rowend[i].clock.next = self.clock.val();
            self.ti_cbase[i].clock.next = self.clock.val();
            self.ti_rows[i].clock.next = self.clock.val();
        }
        self.ti_valid[0].d.next = self.tile_last.val();
        self.ti_rowend[0].d.next = self.tile_rowend.val();
        self.ti_cbase[0].d.next = self.tile_cbase.val();
        self.ti_rows[0].d.next = self.tile_rows.val();
        for i in 1..TILE_INFO_STAGES {
            self.ti_valid[i].d.next = self.ti_valid[i - 1].q.val();
            self.ti_rowend[i].d.next = self.ti_rowend[i - 1].q.val();
            self.ti_cbase[i].d.next = self.ti_cbase[i - 1].q.val();
            self.ti_rows[i].d.next = self.ti_rows[i - 1].q.val();
        }
        self.ev_reg.d.next = false;
        self.ev_first_reg.d.next = false;
        self.ev_lastrow_reg.d.next = false;
        self.ev_we.d.next = false;
        for i in (TILE_INFO_STAGES - 1)..TILE_INFO_STAGES {
            self.col_load.next = self.ti_valid[i].q.val();
            if self.ti_valid[i].q.val() {
                self.ev_reg.d.next = true;
                self.ev_first_reg.d.next = true;
                self.ev_lastrow_reg.d.next = self.rows_minus1.val() == self.zero9.val();
                self.ev_rowend_reg.d.next = self.ti_rowend[i].q.val();
                self.ev_we.d.next = true;
                self.ev_addr.d.next = self.ti_cbase[i].q.val();
                self.dr_addr.d.next = self.ti_cbase[i].q.val() + self.stride.val();
                self.dr_left.d.next = self.rows_minus1.val();
                self.dr_wleft.d.next = self.ti_rows[i].q.val() - self.one9.val();
                self.dr_gap.d.next = true;
            } else if self.dr_left.q.val() != self.zero9.val() {
                if self.dr_gap.q.val() {
                    self.dr_gap.d.next = false;
                } else {
                    // Rows >= M get their words like any other row but are not written.
                    self.ev_reg.d.next = true;
                    self.ev_lastrow_reg.d.next = self.dr_left.q.val() == self.one9.val();
                    self.ev_we.d.next = self.dr_wleft.q.val() != self.zero9.val();
                    self.ev_addr.d.next = self.dr_addr.q.val();
                    self.dr_addr.d.next = self.dr_addr.q.val() + self.stride.val();
                    self.dr_left.d.next = self.dr_left.q.val() - self.one9.val();
                    if self.dr_wleft.q.val() != self.zero9.val() {
                        self.dr_wleft.d.next = self.dr_wleft.q.val() - self.one9.val();
                    }
                    self.dr_gap.d.next = true;
                }
            }
        }

        // C writes: column 0's, once its head has converted the row, then one register per
        // column for the others.
        self.wd_we.clock.next = self.clock.val();
        self.wd_addr.clock.next = self.clock.val();
        self.wd_we.d.next = self.ev_we.q.val();
        self.wd_addr.d.next = self.ev_addr.q.val();
        for q in 0..C {
            self.wch_we[q].clock.next = self.clock.val();
            self.wch_addr[q].clock.next = self.clock.val();
            self.c_we[q].next = self.wch_we[q].q.val();
            self.c_addr[q].next = self.wch_addr[q].q.val();
        }
        self.wch_we[0].d.next = self.wd_we.q.val();
        self.wch_addr[0].d.next = self.wd_addr.q.val();
        for q in 1..C {
            self.wch_we[q].d.next = self.wch_we[q - 1].q.val();
            self.wch_addr[q].d.next = self.wch_addr[q - 1].q.val();
        }

        // C_in reads: column 0 reads in the event cycle (the RAM answers next cycle, with the
        // sum), column q one register later per column, like the sums' row words.
        self.c_rd_addr[0].next = self.ev_addr.q.val();
        for i in 0..(C - 1) {
            self.rch_addr[i].clock.next = self.clock.val();
        }
        for i in 0..(C - 1) {
            self.c_rd_addr[i + 1].next = self.rch_addr[i].q.val();
        }
        for first in 0..(C - 1).min(1) {
            self.rch_addr[first].d.next = self.ev_addr.q.val();
        }
        for i in 1..(C - 1) {
            self.rch_addr[i].d.next = self.rch_addr[i - 1].q.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per cycle: `(ev, ev_first, ev_lastrow, ev_rowend, col_load)`, and the C writes
    /// `(bank, addr)`.
    type Trace = (Vec<[bool; 5]>, Vec<Vec<(usize, u64)>>);

    struct Tile {
        issue: usize,
        rowend: bool,
        cbase: u64,
        rows: u64,
    }

    /// Drives the tiles' info in their issue cycles and records, per cycle, the event flags
    /// `(ev, ev_first, ev_lastrow, ev_rowend, col_load)`, the C writes `(bank, addr)` and the
    /// C read address of every bank.
    fn run<const R: usize, const C: usize>(
        tiles: &[Tile],
        stride: u64,
        cycles: usize,
    ) -> (Trace, Vec<Vec<u64>>) {
        let mut uut = Drain::<R, C>::default();
        uut.connect_all();
        uut.stride.next = bits(stride);
        let mut flags = vec![];
        let mut writes = vec![];
        let mut reads = vec![];
        for t in 0..cycles {
            let tile = tiles.iter().find(|x| x.issue == t);
            uut.tile_last.next = tile.is_some();
            // Garbage between tiles: the drain must only look at the info with `tile_last`.
            uut.tile_rowend.next = tile.map_or(t % 2 == 0, |x| x.rowend);
            uut.tile_cbase.next = bits(tile.map_or(0x3FF & (t as u64 * 7), |x| x.cbase));
            uut.tile_rows.next = bits(tile.map_or(t as u64 % 5, |x| x.rows));
            flags.push([
                uut.ev.val(),
                uut.ev_first.val(),
                uut.ev_lastrow.val(),
                uut.ev_rowend.val(),
                uut.col_load.val(),
            ]);
            writes.push(
                (0..C)
                    .filter(|&q| uut.c_we[q].val())
                    .map(|q| (q, uut.c_addr[q].val().to_u64()))
                    .collect(),
            );
            reads.push(uut.c_rd_addr.iter().map(|a| a.val().to_u64()).collect());
            clock_cycle!(&mut uut);
        }
        ((flags, writes), reads)
    }

    /// The schedule of docs/hardware.md, computed directly: each tile's rows are events two
    /// cycles apart from FIRST_EVENT_DELAY after its issue, and row p of column q is written
    /// HEAD_LATENCY + 1 + q cycles after its event.
    fn expected<const R: usize, const C: usize>(
        tiles: &[Tile],
        stride: u64,
        cycles: usize,
    ) -> Trace {
        let mut flags = vec![[false; 5]; cycles];
        let mut writes = vec![vec![]; cycles];
        let mut rowend = false;
        for (t, f) in flags.iter_mut().enumerate() {
            if let Some(x) = tiles.iter().find(|x| x.issue + FIRST_EVENT_DELAY == t) {
                rowend = x.rowend;
            }
            f[3] = rowend;
        }
        for x in tiles {
            let t0 = x.issue + FIRST_EVENT_DELAY;
            flags[t0 - 1][4] = true;
            for p in 0..R {
                let t = t0 + 2 * p;
                flags[t][0] = true;
                flags[t][1] = p == 0;
                flags[t][2] = p == R - 1;
                if (p as u64) < x.rows {
                    for (q, w) in writes
                        .iter_mut()
                        .skip(t + HEAD_LATENCY + 1)
                        .take(C)
                        .enumerate()
                    {
                        w.push((q, x.cbase + p as u64 * stride));
                    }
                }
            }
        }
        for w in &mut writes {
            w.sort();
        }
        (flags, writes)
    }

    fn check<const R: usize, const C: usize>(tiles: &[Tile], stride: u64) {
        let cycles = tiles.iter().map(|x| x.issue).max().unwrap() + 2 * R + C + 12;
        let (got, reads) = run::<R, C>(tiles, stride, cycles);
        let want = expected::<R, C>(tiles, stride, cycles);
        for t in 0..cycles {
            assert_eq!(got.0[t], want.0[t], "{R}x{C}: flags in cycle {t}");
            assert_eq!(got.1[t], want.1[t], "{R}x{C}: writes in cycle {t}");
        }
        // Bank q reads row p's C_in address q cycles after the row's event (all R
        // rows, the rows that are not written included: their words are never used).
        for x in tiles {
            for p in 0..R {
                let t = x.issue + FIRST_EVENT_DELAY + 2 * p;
                for (q, row) in reads.iter().skip(t).take(C).enumerate() {
                    let want = x.cbase + p as u64 * stride;
                    assert_eq!(
                        row[q], want,
                        "{R}x{C}: read of bank {q}, tile at {}",
                        x.issue
                    );
                }
            }
        }
    }

    #[test]
    fn tiles_drain_one_row_every_other_cycle_into_every_column() {
        // Back-to-back tiles at the shortest period 2R - 1, a partial last tile (2 of 3 rows)
        // and a row-tile end.
        let tiles = [
            Tile {
                issue: 4,
                rowend: false,
                cbase: 10,
                rows: 3,
            },
            Tile {
                issue: 9,
                rowend: true,
                cbase: 11,
                rows: 3,
            },
            Tile {
                issue: 14,
                rowend: true,
                cbase: 30,
                rows: 2,
            },
        ];
        check::<3, 4>(&tiles, 7);
        let single = [
            Tile {
                issue: 2,
                rowend: true,
                cbase: 5,
                rows: 1,
            },
            Tile {
                issue: 3,
                rowend: false,
                cbase: 6,
                rows: 1,
            },
        ];
        check::<1, 1>(&single, 1);
    }
}
