// C ABI around a Verilated qtrain device top (`top`: clock, uart_rx, uart_tx, clocks_per_bit and,
// on the real device, clock_hz and baud), loaded at run time by qtrain-sim's SimDevice.
//
// The harness plays the host's UART: queued host bytes are serialized onto uart_rx (8N1, back
// to back, clocks_per_bit cycles per bit) and uart_tx is deserialized into bytes. One call runs
// many cycles, so that the Rust side crosses the FFI boundary about once per received frame.
//
// Clocking convention as in harness.cpp: inputs change while `clock` is low; one tick is a
// rising edge followed by a falling edge; outputs are sampled after the tick.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

#if VM_TRACE_FST
#include "verilated_fst_c.h"
typedef VerilatedFstC QtTrace;
#elif VM_TRACE
#include "verilated_vcd_c.h"
typedef VerilatedVcdC QtTrace;
#endif

#define QT_EXPORT extern "C" __attribute__((visibility("default")))

// Bumped whenever a signature below changes; the Rust side refuses a mismatching library.
static const uint32_t QT_DEV_ABI_VERSION = 1;

namespace {

// The bring-up echo top has no clock_hz/baud ports; the device top has them. Overload
// resolution picks the first form only when the members exist.
template <typename T>
auto set_rates(T* t, uint32_t hz, uint32_t baud, int) -> decltype(t->clock_hz = hz, t->baud = baud, void()) {
    t->clock_hz = hz;
    t->baud = baud;
}
template <typename T>
void set_rates(T*, uint32_t, uint32_t, long) {}

// Deserializer phases.
enum : uint8_t { RX_IDLE = 0, RX_FRAME = 1, RX_BREAK = 2 };

struct Dev {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<Vtop> top;
#if VM_TRACE
    std::unique_ptr<QtTrace> trace;
#endif
    uint32_t cpb = 0;
    uint64_t cycles = 0;

    // Host -> device: bytes waiting, the frame on the line and where in it we are.
    std::vector<uint8_t> in;
    size_t in_pos = 0;
    bool sending = false;
    uint32_t frame = 0;     // start bit in bit 0, data in 1..8, stop bit in 9
    uint32_t bit = 0;       // bit of `frame` on the line
    uint32_t bit_left = 0;  // cycles left in that bit

    // Device -> host.
    uint8_t rx_phase = RX_IDLE;
    uint32_t rx_count = 0;  // cycles to the next sample
    uint32_t rx_index = 0;  // samples taken in this frame (0: start bit)
    uint32_t rx_shift = 0;
    uint64_t tx_frame_end = 0;  // the cycle where the last seen device frame ends

    // Counters.
    uint64_t h2d_busy = 0;
    uint64_t d2h_busy = 0;
    uint64_t link_busy = 0;
    uint64_t framing_errors = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;

    void tick() {
        top->clock = 1;
        top->eval();
#if VM_TRACE
        if (trace) trace->dump(ctx->time());
        ctx->timeInc(1);
#endif
        top->clock = 0;
        top->eval();
#if VM_TRACE
        if (trace) trace->dump(ctx->time());
        ctx->timeInc(1);
#endif
        ++cycles;
    }
};

}  // namespace

QT_EXPORT uint32_t qt_dev_abi_version(void) { return QT_DEV_ABI_VERSION; }

QT_EXPORT int qt_dev_has_trace(void) {
#if VM_TRACE
    return 1;
#else
    return 0;
#endif
}

// Returns nullptr if a trace was requested from a library built without tracing.
QT_EXPORT void* qt_dev_create(const char* trace_path, uint32_t clocks_per_bit, uint32_t clock_hz,
                              uint32_t baud) {
#if !VM_TRACE
    if (trace_path) return nullptr;
#endif
    Dev* s = new Dev;
    s->cpb = clocks_per_bit;
    s->ctx.reset(new VerilatedContext);
    s->ctx->debug(0);
#if VM_TRACE
    if (trace_path) s->ctx->traceEverOn(true);
#endif
    s->top.reset(new Vtop(s->ctx.get(), "top"));
    Vtop* t = s->top.get();
    t->clock = 0;
    t->uart_rx = 1;
    t->clocks_per_bit = clocks_per_bit;
    set_rates(t, clock_hz, baud, 0);
    t->eval();
#if VM_TRACE
    if (trace_path) {
        s->trace.reset(new QtTrace);
        t->trace(s->trace.get(), 99);
        s->trace->open(trace_path);
        s->trace->dump(s->ctx->time());
        s->ctx->timeInc(1);
    }
#endif
    return s;
}

QT_EXPORT void qt_dev_destroy(void* h) {
    Dev* s = static_cast<Dev*>(h);
    if (!s) return;
#if VM_TRACE
    if (s->trace) s->trace->close();
#endif
    s->top->final();
    delete s;
}

// Queues host bytes for the serializer.
QT_EXPORT void qt_dev_send(void* h, const uint8_t* data, size_t n) {
    Dev* s = static_cast<Dev*>(h);
    if (s->in_pos > 0 && s->in_pos == s->in.size()) {
        s->in.clear();
        s->in_pos = 0;
    }
    s->in.insert(s->in.end(), data, data + n);
}

// Host bytes not yet completely on the line (including the one being sent).
QT_EXPORT uint64_t qt_dev_pending(void* h) {
    Dev* s = static_cast<Dev*>(h);
    return (s->in.size() - s->in_pos) + (s->sending ? 1 : 0);
}

// counters: cycles, host->device busy, device->host busy, either busy, framing errors on
// uart_tx, bytes serialized, bytes deserialized.
QT_EXPORT void qt_dev_counters(void* h, uint64_t* out) {
    Dev* s = static_cast<Dev*>(h);
    out[0] = s->cycles;
    out[1] = s->h2d_busy;
    out[2] = s->d2h_busy;
    out[3] = s->link_busy;
    out[4] = s->framing_errors;
    out[5] = s->bytes_in;
    out[6] = s->bytes_out;
}

// Runs until `max_cycles` ticks have run, `cap` bytes were received into `out`, or (with
// `stop_byte` in 0..=255) that byte was received. Stops early, once the host queue is drained
// and the line has been quiet for `idle_stop` cycles, when `idle_stop` is non-zero. Returns
// the ticks run; `*got` receives the bytes received.
QT_EXPORT uint64_t qt_dev_run(void* h, uint64_t max_cycles, uint8_t* out, size_t cap,
                              int stop_byte, uint64_t idle_stop, size_t* got) {
    Dev* s = static_cast<Dev*>(h);
    Vtop* t = s->top.get();
    const uint32_t cpb = s->cpb;
    size_t n = 0;
    uint64_t run = 0;
    uint64_t quiet = 0;
    while (run < max_cycles && n < cap) {
        // Serializer: the level for this cycle goes on the line before the edge.
        bool h2d = false;
        if (!s->sending && s->in_pos < s->in.size()) {
            s->frame = (uint32_t(s->in[s->in_pos++]) << 1) | (1u << 9);
            s->sending = true;
            s->bit = 0;
            s->bit_left = cpb;
        }
        if (s->sending) {
            h2d = true;
            t->uart_rx = (s->frame >> s->bit) & 1;
            if (--s->bit_left == 0) {
                s->bit_left = cpb;
                if (++s->bit == 10) {
                    s->sending = false;
                    ++s->bytes_in;
                }
            }
        } else {
            t->uart_rx = 1;
        }

        s->tick();
        ++run;

        // Deserializer: the device's line as of this edge.
        const bool line = t->uart_tx;
        bool stop = false;
        switch (s->rx_phase) {
            case RX_IDLE:
                if (!line) {
                    s->rx_phase = RX_FRAME;
                    s->rx_count = cpb / 2;
                    s->rx_index = 0;
                    s->rx_shift = 0;
                    s->tx_frame_end = s->cycles - 1 + 10 * uint64_t(cpb);
                }
                break;
            case RX_FRAME:
                if (--s->rx_count == 0) {
                    s->rx_count = cpb;
                    if (s->rx_index == 0) {
                        if (line) {  // a glitch, not a start bit
                            s->rx_phase = RX_IDLE;
                            s->tx_frame_end = s->cycles;
                        }
                    } else if (s->rx_index <= 8) {
                        s->rx_shift |= uint32_t(line) << (s->rx_index - 1);
                    } else if (line) {
                        s->rx_phase = RX_IDLE;
                        const uint8_t b = uint8_t(s->rx_shift);
                        out[n++] = b;
                        ++s->bytes_out;
                        if (int(b) == stop_byte) stop = true;
                    } else {
                        ++s->framing_errors;
                        s->rx_phase = RX_BREAK;
                    }
                    ++s->rx_index;
                }
                break;
            default:
                if (line) s->rx_phase = RX_IDLE;
                break;
        }
        const bool d2h = s->cycles <= s->tx_frame_end || s->rx_phase != RX_IDLE;
        s->h2d_busy += h2d;
        s->d2h_busy += d2h;
        s->link_busy += h2d || d2h;
        if (stop) break;
        if (idle_stop) {
            quiet = (h2d || d2h || s->in_pos < s->in.size()) ? 0 : quiet + 1;
            if (quiet >= idle_stop) break;
        }
    }
    *got = n;
    return run;
}
