// C ABI around the Verilated qtrain GEMM core (`top`), loaded at run time by qtrain-sim.
//
// Every call does a whole batch of work (a load, a GEMM, a read-back) so that the Rust side
// crosses the FFI boundary a handful of times per GEMM rather than once per clock.
//
// Clocking convention: inputs change while `clock` is low; one tick is a rising edge followed
// by a falling edge. Outputs are sampled after the tick, i.e. as of the last rising edge.

#include <cstddef>
#include <cstdint>
#include <memory>

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
static const uint32_t QT_ABI_VERSION = 2;

namespace {

struct Sim {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<Vtop> top;
#if VM_TRACE
    std::unique_ptr<QtTrace> trace;
#endif
    uint64_t cycles = 0;

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

QT_EXPORT uint32_t qt_abi_version(void) { return QT_ABI_VERSION; }

QT_EXPORT int qt_has_trace(void) {
#if VM_TRACE
    return 1;
#else
    return 0;
#endif
}

// Returns nullptr if a trace was requested from a library built without tracing.
QT_EXPORT void* qt_create(const char* trace_path) {
#if !VM_TRACE
    if (trace_path) return nullptr;
#endif
    Sim* s = new Sim;
    s->ctx.reset(new VerilatedContext);
    s->ctx->debug(0);
#if VM_TRACE
    if (trace_path) s->ctx->traceEverOn(true);
#endif
    s->top.reset(new Vtop(s->ctx.get(), "top"));
    s->top->clock = 0;
    s->top->start = 0;
    s->top->wr_en = 0;
    s->top->eval();
#if VM_TRACE
    if (trace_path) {
        s->trace.reset(new QtTrace);
        s->top->trace(s->trace.get(), 99);
        s->trace->open(trace_path);
        s->trace->dump(s->ctx->time());
        s->ctx->timeInc(1);
    }
#endif
    return s;
}

QT_EXPORT void qt_destroy(void* h) {
    Sim* s = static_cast<Sim*>(h);
    if (!s) return;
#if VM_TRACE
    if (s->trace) s->trace->close();
#endif
    s->top->final();
    delete s;
}

QT_EXPORT uint64_t qt_cycles(void* h) { return static_cast<Sim*>(h)->cycles; }

// One scratchpad word per clock. Each entry packs
// data[15:0] | addr[47:16] | bank[55:48] | target[57:56] (0 = A, 1 = B, 2 = C).
QT_EXPORT void qt_write(void* h, const uint64_t* words, size_t n) {
    Sim* s = static_cast<Sim*>(h);
    Vtop* t = s->top.get();
    for (size_t i = 0; i < n; ++i) {
        const uint64_t w = words[i];
        t->wr_en = 1;
        t->wr_data = static_cast<uint16_t>(w);
        t->wr_addr = static_cast<uint32_t>(w >> 16);
        t->wr_bank = static_cast<uint8_t>(w >> 48);
        t->wr_target = static_cast<uint8_t>((w >> 56) & 3);
        s->tick();
    }
    t->wr_en = 0;
    t->eval();
}

// Reads C words, one per clock. Each entry packs addr[31:0] | bank[39:32].
// rd_data is registered, so the word for an address appears after the tick that follows
// presenting it; the address is held until it has been sampled.
QT_EXPORT void qt_read(void* h, const uint64_t* addrs, uint16_t* out, size_t n) {
    Sim* s = static_cast<Sim*>(h);
    Vtop* t = s->top.get();
    for (size_t i = 0; i < n; ++i) {
        t->rd_addr = static_cast<uint32_t>(addrs[i]);
        t->rd_bank = static_cast<uint8_t>(addrs[i] >> 32);
        s->tick();
        out[i] = static_cast<uint16_t>(t->rd_data);
    }
}

// Pulses `start` with the configuration (accumulate: nonzero to add the C scratchpad's
// contents, loaded beforehand with target C), then clocks until `busy` falls or `max_cycles`
// ticks (including the start tick) have run. Returns 0 on completion, 1 if `busy` never rose,
// 2 on timeout. `*ticks` receives the ticks run, `*core_cycles` the core's `cycles` output.
QT_EXPORT int qt_gemm(void* h, uint32_t m, uint32_t k, uint32_t n, uint32_t fl_a, uint32_t fl_b,
                      uint32_t fl_c, uint32_t rounding, uint32_t row_state, uint32_t col_state,
                      uint32_t accumulate, uint64_t max_cycles, uint64_t* ticks, uint32_t* core_cycles) {
    Sim* s = static_cast<Sim*>(h);
    Vtop* t = s->top.get();
    t->m = m;
    t->k = k;
    t->n = n;
    t->fl_a = fl_a;
    t->fl_b = fl_b;
    t->fl_c = fl_c;
    t->rounding = rounding;
    t->row_state = row_state;
    t->col_state = col_state;
    t->accumulate = accumulate != 0;
    t->start = 1;
    s->tick();
    t->start = 0;
    uint64_t run = 1;
    int status = 0;
    if (!t->busy) {
        status = 1;
    } else {
        while (t->busy) {
            if (run >= max_cycles) {
                status = 2;
                break;
            }
            s->tick();
            ++run;
        }
    }
    *ticks = run;
    *core_cycles = static_cast<uint32_t>(t->cycles);
    return status;
}
