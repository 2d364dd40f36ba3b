/* spec.c — pass 1: run a model spec in a sandboxed Lua 5.4 state and read
 * the model it returns into a Spec.
 *
 * Every DSL function (linear, relu, sgd, normal, fashion_mnist, …) is a C
 * closure made from the op registry: it records where the spec called it and
 * lets the op's parse hook check its arguments, returning a "kiln.value"
 * userdata.  model{} wraps the spec's table; after the chunk returns, this
 * file checks every field and copies it out.  The Lua state is capped in
 * memory and instructions, so a spec cannot hang or exhaust kiln. */
#define _XOPEN_SOURCE 700   /* realpath */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "kiln.h"
#include "ops/ops.h"

#define SPEC_MEMORY_LIMIT (64u << 20)   /* bytes a spec's Lua state may hold */
#ifndef SPEC_INSTRUCTION_LIMIT   /* the fuzzer builds with less: its units must stay fast under ASan */
#define SPEC_INSTRUCTION_LIMIT 100000000L
#endif
#define HOOK_EVERY 10000

static const char prelude_source[] =
#include "prelude.inc"
    ;

/* ---- the sandbox's limits ------------------------------------------------ */

typedef struct { size_t used, limit; } Budget;

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    Budget *b = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        b->used -= old;
        return NULL;
    }
    if (nsize > old && b->used - old + nsize > b->limit) return NULL;
    void *p = realloc(ptr, nsize);
    if (p) b->used = b->used - old + nsize;
    return p;
}

static long instructions_run;

/* Wall-clock backstop for time spent inside one C library call (a huge
 * string.rep or a pathological pattern match), which the count hook
 * cannot interrupt.  SIGALRM's disposition and mask pass through exec, so
 * a kiln started with it ignored or blocked (`trap '' ALRM`, a parent's
 * sigprocmask) would run such a spec forever: the backstop installs its
 * handler and unblocks the signal for the spec's run, then puts the
 * caller's settings back.  A SIGALRM before the deadline (pending from
 * before, or sent by someone else) is not the alarm's and is let pass. */
#define SPEC_SECONDS_LIMIT 20
static char timeout_message[600];
static time_t deadline;   /* CLOCK_MONOTONIC seconds, give or take the alarm's rounding */
static struct sigaction caller_action;
static sigset_t caller_mask;

static void on_timeout(int sig) {
    (void)sig;
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) == 0 && now.tv_sec < deadline) return;
    ssize_t ignored = write(2, timeout_message, strlen(timeout_message));
    (void)ignored;
    _exit(1);
}

static void backstop_start(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_timeout;
    sigemptyset(&sa.sa_mask);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    deadline = now.tv_sec + SPEC_SECONDS_LIMIT - 1;
    sigaction(SIGALRM, &sa, &caller_action);
    sigset_t alarm_only;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    sigprocmask(SIG_UNBLOCK, &alarm_only, &caller_mask);
    alarm(SPEC_SECONDS_LIMIT);
}

static void backstop_stop(void) {
    alarm(0);
    sigprocmask(SIG_SETMASK, &caller_mask, NULL);
    sigaction(SIGALRM, &caller_action, NULL);
}

static char limit_message[512];   /* the first time the limit hit, for pcall to pass on */

/* ---- where the spec is running ----------------------------------------- */

static const char *spec_path;   /* the file being run: every Loc points here */

/* The innermost frame at or above `level` that runs the spec's own code (its
 * chunk is "@" + its path; the prelude and C functions are not), in *ar;
 * 0 if there is none.  Safe inside a message handler: it neither allocates
 * nor pushes. */
static int spec_frame(lua_State *L, int level, lua_Debug *ar) {
    for (; lua_getstack(L, level, ar); level++)
        if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0 && ar->source[0] == '@' &&
            strcmp(ar->source + 1, spec_path) == 0)
            return 1;
    return 0;
}

/* The spec line running now (inside a DSL function: the line calling it). */
static Loc caller_loc(lua_State *L) {
    lua_Debug ar;
    Loc loc = { spec_path, spec_frame(L, 0, &ar) ? ar.currentline : 0 };
    return loc;
}

static void count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    instructions_run += HOOK_EVERY;
    if (instructions_run > SPEC_INSTRUCTION_LIMIT) {
        if (!limit_message[0]) {   /* the spec's line, not the prelude's (its pcall wrappers) */
            Loc loc = caller_loc(L);
            snprintf(limit_message, sizeof limit_message,
                     "%s:%d: spec still running after %d million Lua instructions; does it loop forever?",
                     loc.file, loc.line, (int)(SPEC_INSTRUCTION_LIMIT / 1000000));
        }
        luaL_error(L, "%s", limit_message);
    }
}

/* The prelude's pcall/xpcall: the limit's message once it is hit, else nil. */
static int dsl_limit_hit(lua_State *L) {
    if (limit_message[0]) lua_pushstring(L, limit_message);
    else lua_pushnil(L);
    return 1;
}

/* ---- strings that outlive the Lua state -------------------------------- */

/* A string option (idx{dir = …}) is copied out of Lua: the Layer holding it
 * outlives the state.  The copies, and the list of them, come from the
 * state's own allocator, so they count against the spec's memory cap like
 * everything else it makes, and stay counted while it runs (a loop making
 * idx{} values ends at the cap, not gigabytes later).  spec_free frees them
 * after the state is gone (capped_alloc allocates with realloc). */
static char **owned;
static size_t nowned, capowned;

static void *spec_alloc(lua_State *L, void *p, size_t old, size_t n) {
    void *ud;
    lua_Alloc alloc = lua_getallocf(L, &ud);
    void *q = alloc(ud, p, old, n);
    if (!q) {   /* the message Lua's own allocation failures carry (an interned string: no allocation) */
        lua_pushliteral(L, "not enough memory");
        lua_error(L);
    }
    return q;
}

/* n zeroed bytes that outlive the state (an op's attributes, a string). */
static void *spec_keep(lua_State *L, size_t n) {
    if (nowned == capowned) {
        size_t cap = capowned ? capowned * 2 : 16;
        owned = spec_alloc(L, owned, capowned * sizeof *owned, cap * sizeof *owned);
        capowned = cap;
    }
    char *p = spec_alloc(L, NULL, 0, n);
    memset(p, 0, n);
    return owned[nowned++] = p;
}

static char *spec_strdup(lua_State *L, const char *s, size_t len) {
    char *copy = spec_keep(L, len + 1);
    memcpy(copy, s, len + 1);
    return copy;
}

/* ---- the DSL's objects ----------------------------------------------- */

/* A kiln.value userdata: a DSL call's Layer, and how often forward applied
 * it.  User value 1: sequential's list of layers. */
typedef struct {
    Layer l;
    int   applied;     /* a layer with parameters is applied once */
    int   first_line;  /* ... at this line */
} LayerBox;

/* A kiln.tensor userdata: a value of the model's forward graph, the input x
 * or a layer applied to values.  Its pointers are to userdata its user
 * values keep alive (1: the layer's box, 2…: the inputs), so read_model can
 * walk them in C. */
typedef struct Tensor {
    int            seq;      /* order of creation: x is 0 */
    Loc            loc;      /* where it was made */
    LayerBox      *layer;    /* NULL: the model's input */
    struct Tensor *in[KILN_MAX_INPUTS];
    int            nin;
    int            app;      /* read_model: its Apply, or -1 */
} Tensor;

static int tensors_made;

/* sequential {layers...}: a block of layers, itself a layer (user value 1
 * of its box is the list).  Known to spec.c only: no node of its own. */
static const OpDef op_sequential = { .name = "sequential", .kind = OP_LAYER };

/* ---- argument helpers for the ops' parse hooks ------------------------ */

/* The message is formatted on the stack: pushing it may itself raise (out
 * of the spec's memory), and nothing of ours may be on the heap then. */
void call_fail(Call *c, const char *fmt, ...) {
    lua_State *L = c->L;
    char msg[1024];
    int at = snprintf(msg, sizeof msg, "%s:%d: %s: ", c->loc.file, c->loc.line, c->name);
    va_list ap;
    va_start(ap, fmt);
    if (at >= 0 && (size_t)at < sizeof msg) vsnprintf(msg + at, sizeof msg - (size_t)at, fmt, ap);
    va_end(ap);
    lua_pushstring(L, msg);
    lua_error(L);
    abort();   /* lua_error does not return */
}

static const char *lua_show(lua_State *L, int idx, char *buf, size_t n) {
    switch (lua_type(L, idx)) {
    case LUA_TNONE: case LUA_TNIL: return "nothing";
    case LUA_TNUMBER: snprintf(buf, n, "%.14g", lua_tonumber(L, idx)); return buf;
    case LUA_TSTRING: snprintf(buf, n, "the string \"%.40s\"", lua_tostring(L, idx)); return buf;
    default: {
        Layer *l = luaL_testudata(L, idx, "kiln.value");
        if (l) { snprintf(buf, n, "%s()", l->op->name); return buf; }
        Tensor *t = luaL_testudata(L, idx, "kiln.tensor");
        if (t && !t->layer) { snprintf(buf, n, "the model's input x"); return buf; }
        if (t) { snprintf(buf, n, "the value made at line %d", t->loc.line); return buf; }
        return luaL_typename(L, idx);
    }
    }
}

static long check_size(Call *c, int idx, const char *what) {
    lua_State *L = c->L;
    char buf[80];
    if (lua_type(L, idx) != LUA_TNUMBER)
        call_fail(c, "%s must be a positive whole number, got %s", what, lua_show(L, idx, buf, sizeof buf));
    double v = lua_tonumber(L, idx);
    if (!(v >= 1)) call_fail(c, "%s must be a positive whole number, got %s", what, lua_show(L, idx, buf, sizeof buf));
    if (v > KILN_MAX_DIM)
        call_fail(c, "%s is %g, above kiln's limit of %d for one dimension", what, v, KILN_MAX_DIM);
    if (v != floor(v)) call_fail(c, "%s must be a whole number, got %.14g", what, v);
    return (long)v;
}

long call_size(Call *c, int arg, const char *what) {
    if (arg > c->nargs) call_fail(c, "missing %s (argument %d)", what, arg);
    return check_size(c, arg, what);
}

/* The number at stack index idx, a whole one from lo to hi. */
static long whole_in(Call *c, int idx, const char *what, long lo, long hi) {
    char buf[80];
    double v = lua_tonumber(c->L, idx);
    if (lua_type(c->L, idx) != LUA_TNUMBER || v != floor(v) || v < (double)lo || v > (double)hi)
        call_fail(c, "%s must be a whole number from %ld to %ld, got %s", what, lo, hi,
                  lua_show(c->L, idx, buf, sizeof buf));
    return (long)v;
}

/* The value at stack index idx: one whole number for both axes, or a list
 * {h, w}; into out[0] (height) and out[1] (width). */
static void read_pair(Call *c, int idx, const char *what, long lo, long hi, long out[2]) {
    lua_State *L = c->L;
    char buf[80];
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TNUMBER) {
        out[0] = out[1] = whole_in(c, idx, what, lo, hi);
        return;
    }
    if (!lua_istable(L, idx) || lua_rawlen(L, idx) != 2)
        call_fail(c, "%s must be a whole number or a pair {height, width}, got %s", what, lua_show(L, idx, buf, sizeof buf));
    for (int k = 0; k < 2; k++) {
        lua_rawgeti(L, idx, k + 1);
        snprintf(buf, sizeof buf, "%s[%d]", what, k + 1);
        out[k] = whole_in(c, lua_gettop(L), buf, lo, hi);
        lua_pop(L, 1);
    }
}

void call_pair(Call *c, int arg, const char *what, long lo, long hi, long out[2]) {
    if (arg > c->nargs) call_fail(c, "missing %s (argument %d)", what, arg);
    read_pair(c, arg, what, lo, hi, out);
}

/* Every number a spec gives reaches the trainer as a 32-bit float (a rate,
 * a moment, an initializer's parameters, a dropout probability, the
 * synthetic data's weights) or goes into its arithmetic: a nonzero
 * magnitude below FLT_MIN would become 0 (or a subnormal) and one above
 * FLT_MAX infinity.  Each reader below refuses them where the spec wrote
 * them.  What kiln derives from accepted values stays in range (−lr,
 * 1 − lr·wd, 1 − β, 1/(1 − p), the inits' bounds), so nothing nonzero is
 * emitted as 0. */
static void check_float(Call *c, const char *what, double v) {
    if (v == 0 || (fabs(v) >= FLT_MIN && fabs(v) <= FLT_MAX)) return;
    call_fail(c, "%s is %g, outside what a 32-bit float holds (it would become %s); use a magnitude from %.2g to %.2g",
              what, v, fabs(v) < FLT_MIN ? "0" : "infinite", FLT_MIN, FLT_MAX);
}

double call_number(Call *c, int arg, const char *what) {
    lua_State *L = c->L;
    char buf[80];
    if (arg > c->nargs) call_fail(c, "missing %s (argument %d)", what, arg);
    if (lua_type(L, arg) != LUA_TNUMBER)
        call_fail(c, "%s must be a number, got %s", what, lua_show(L, arg, buf, sizeof buf));
    double v = lua_tonumber(L, arg);
    if (!isfinite(v)) call_fail(c, "%s must be finite, got %g", what, v);
    check_float(c, what, v);
    return v;
}

void call_max_args(Call *c, int max) {
    if (c->nargs > max && max == 0) call_fail(c, "takes no arguments, got %d", c->nargs);
    if (c->nargs > max)
        call_fail(c, "takes at most %d argument%s, got %d", max, max == 1 ? "" : "s", c->nargs);
}

int call_opts(Call *c, int arg, const char *const *valid) {
    lua_State *L = c->L;
    char buf[80];
    if (arg > c->nargs || lua_isnil(L, arg)) return 0;
    if (!lua_istable(L, arg))
        call_fail(c, "argument %d must be a table of options, got %s", arg, lua_show(L, arg, buf, sizeof buf));
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        lua_pop(L, 1);
        StrBuf joined = {0};   /* copied to the stack: pushing the message may raise */
        char list[512];
        sb_join(&joined, valid);
        snprintf(list, sizeof list, "%s", joined.data ? joined.data : "none");
        sb_free(&joined);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pushfstring(L, "%s:%d: %s: options must be named (valid: %s)", c->loc.file, c->loc.line,
                            c->name, list);
            lua_error(L);
        }
        const char *key = lua_tostring(L, -1);
        int known = 0;
        for (int i = 0; valid[i]; i++) known |= strcmp(valid[i], key) == 0;
        if (!known) {
            const char *near = nearest_name(key, valid);
            lua_pushfstring(L, "%s:%d: %s: unknown option '%s'%s%s%s (valid: %s)", c->loc.file, c->loc.line,
                            c->name, key, near ? "; did you mean '" : "", near ? near : "",
                            near ? "'?" : "", list);
            lua_error(L);
        }
    }
    return 1;
}

static int get_opt(Call *c, int arg, const char *key) {
    if (arg > c->nargs || !lua_istable(c->L, arg)) return 0;
    if (lua_getfield(c->L, arg, key) == LUA_TNIL) { lua_pop(c->L, 1); return 0; }
    return 1;   /* value on top of the stack */
}

int call_opt_number(Call *c, int arg, const char *key, double *out) {
    char buf[80];
    if (!get_opt(c, arg, key)) return 0;
    if (lua_type(c->L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(c->L, -1)))
        call_fail(c, "option %s must be a finite number, got %s", key, lua_show(c->L, -1, buf, sizeof buf));
    *out = lua_tonumber(c->L, -1);
    snprintf(buf, sizeof buf, "option %s", key);
    check_float(c, buf, *out);
    lua_pop(c->L, 1);
    return 1;
}

int call_opt_bool(Call *c, int arg, const char *key, int *out) {
    char buf[80];
    if (!get_opt(c, arg, key)) return 0;
    if (!lua_isboolean(c->L, -1))
        call_fail(c, "option %s must be true or false, got %s", key, lua_show(c->L, -1, buf, sizeof buf));
    *out = lua_toboolean(c->L, -1);
    lua_pop(c->L, 1);
    return 1;
}

int call_opt_string(Call *c, int arg, const char *key, char **out) {
    char buf[80];
    if (!get_opt(c, arg, key)) return 0;
    if (lua_type(c->L, -1) != LUA_TSTRING)
        call_fail(c, "option %s must be a string, got %s", key, lua_show(c->L, -1, buf, sizeof buf));
    size_t len;
    const char *s = lua_tolstring(c->L, -1, &len);
    if (strlen(s) != len || len == 0 || len > 4000)
        call_fail(c, "option %s must be a non-empty string of at most 4000 bytes without NUL", key);
    *out = spec_strdup(c->L, s, len);
    lua_pop(c->L, 1);
    return 1;
}

int call_opt_path(Call *c, int arg, const char *key, char **out) {
    if (!call_opt_string(c, arg, key, out)) return 0;
    if ((*out)[0] == '/') return 1;
    /* relative: to the spec's directory, made absolute so the trainer finds
     * it from anywhere */
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(spec_path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - spec_path) + (slash == spec_path) : 1,
             slash ? spec_path : ".");
    const char *base = realpath(dir, real) ? real : dir;
    static char joined[PATH_MAX + 4096];   /* static: spec_strdup may raise the memory limit's error */
    int n = snprintf(joined, sizeof joined, "%s/%s", base, *out);
    *out = spec_strdup(c->L, joined, n < (int)sizeof joined ? (size_t)n : sizeof joined - 1);
    return 1;
}

int call_opt_pair(Call *c, int arg, const char *key, long lo, long hi, long out[2]) {
    if (!get_opt(c, arg, key)) return 0;
    read_pair(c, -1, key, lo, hi, out);
    lua_pop(c->L, 1);
    return 1;
}

int call_opt_numbers(Call *c, int arg, const char *key, double *out, int max, int *count) {
    char buf[80];
    if (!get_opt(c, arg, key)) return 0;
    int n = lua_istable(c->L, -1) ? (int)lua_rawlen(c->L, -1) : 0;
    if (n < 1 || n > max)
        call_fail(c, "option %s must be a list of 1 to %d numbers, got %s", key, max, lua_show(c->L, -1, buf, sizeof buf));
    for (int i = 0; i < n; i++) {
        lua_rawgeti(c->L, -1, i + 1);
        if (lua_type(c->L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(c->L, -1)))
            call_fail(c, "option %s[%d] must be a finite number, got %s", key, i + 1, lua_show(c->L, -1, buf, sizeof buf));
        out[i] = lua_tonumber(c->L, -1);
        snprintf(buf, sizeof buf, "option %s[%d]", key, i + 1);
        check_float(c, buf, out[i]);
        lua_pop(c->L, 1);
    }
    lua_pop(c->L, 1);
    *count = n;
    return 1;
}

int call_opt_init(Call *c, int arg, const char *key, Init *out) {
    char buf[80];
    if (!get_opt(c, arg, key)) return 0;
    Layer *v = luaL_testudata(c->L, -1, "kiln.value");
    if (!v || v->op->kind != OP_INIT)
        call_fail(c, "option %s must be an initializer like normal(0, 0.01) or zeros(), got %s", key,
                  lua_show(c->L, -1, buf, sizeof buf));
    *out = *(const Init *)v->attr;
    lua_pop(c->L, 1);
    return 1;
}

int call_opt_rate(Call *c, int arg, const char *key, Rate *out) {
    char buf[80];
    if (!get_opt(c, arg, key)) return 0;
    Layer *v = luaL_testudata(c->L, -1, "kiln.value");
    int number = lua_type(c->L, -1) == LUA_TNUMBER;
    if (!number && (!v || v->op->kind != OP_SCHEDULE))
        call_fail(c, "option %s must be a number or a schedule like step_lr {lr = 0.1, every = 5}, got %s", key,
                  lua_show(c->L, -1, buf, sizeof buf));
    if (v) *out = *(const Rate *)v->attr;
    lua_pop(c->L, 1);
    if (number) {
        *out = (Rate){ .loc = c->loc };
        call_opt_number(c, arg, key, &out->lr);
        rate_check(c, key, out->lr);
    }
    return 1;
}

/* ---- DSL constructors ---------------------------------------------------- */

/* Pushes a new box for op, made at loc; returns its Layer. */
static Layer *push_box(lua_State *L, const OpDef *op, Loc loc) {
    LayerBox *b = lua_newuserdatauv(L, sizeof *b, 1);
    memset(b, 0, sizeof *b);
    b->l.op = op;
    b->l.loc = loc;
    b->l.attr = op->attr_size ? spec_keep(L, op->attr_size) : NULL;
    luaL_setmetatable(L, "kiln.value");
    return &b->l;
}

/* Pushes the value the layer in the box at stack index bi makes of the
 * values at stack indices vi[0..nin) (bi 0: the model's input x). */
static Tensor *push_tensor(lua_State *L, int bi, const int *vi, int nin, Loc loc) {
    Tensor *t = lua_newuserdatauv(L, sizeof *t, nin + 1);
    memset(t, 0, sizeof *t);
    t->seq = bi ? ++tensors_made : 0;
    t->loc = loc;
    t->app = -1;
    luaL_setmetatable(L, "kiln.tensor");
    if (bi) {
        t->layer = lua_touserdata(L, bi);
        lua_pushvalue(L, bi);
        lua_setiuservalue(L, -2, 1);
    }
    for (int k = 0; k < nin; k++) {
        t->in[t->nin++] = lua_touserdata(L, vi[k]);
        lua_pushvalue(L, vi[k]);
        lua_setiuservalue(L, -2, k + 2);
    }
    return t;
}

/* Pushes what the layer (or block) in the box at bi makes of the value at
 * vi, applied at loc. */
static void apply_layer(lua_State *L, int bi, int vi, Loc loc, int depth) {
    bi = lua_absindex(L, bi), vi = lua_absindex(L, vi);
    LayerBox *b = lua_touserdata(L, bi);
    char name[64];
    if (b->l.op->describe) b->l.op->describe(&b->l, name);
    else snprintf(name, sizeof name, "%s()", b->l.op->name);
    Call c = { L, 0, name, loc, b->l.op };
    if (b->l.op == &op_sequential) {   /* each layer of the block in turn */
        if (depth > 32 || !lua_checkstack(L, 8)) call_fail(&c, "blocks nested more than 32 deep");
        lua_getiuservalue(L, bi, 1);
        int list = lua_gettop(L);
        lua_pushvalue(L, vi);
        for (int i = 1; i <= (int)lua_rawlen(L, list); i++) {
            lua_rawgeti(L, list, i);
            apply_layer(L, -1, -2, loc, depth + 1);
            lua_replace(L, -3);   /* the result takes the current value's place */
            lua_pop(L, 1);
        }
        lua_remove(L, list);
        return;
    }
    if (b->l.op->params) {
        if (b->applied)
            call_fail(&c, "this layer is already applied at line %d; kiln does not share weights between two "
                      "uses: make another layer for this one (call %s again)", b->first_line, name);
        b->applied = 1;
        b->first_line = loc.line;
    }
    push_tensor(L, bi, &vi, 1, loc);
}

/* A value argument at stack index i, or a one-line error. */
static void check_value(Call *c, int i, const char *what) {
    char buf[80];
    if (!luaL_testudata(c->L, i, "kiln.tensor"))
        call_fail(c, "%s must be a value (x, or what a layer made of it), got %s", what,
                  lua_show(c->L, i, buf, sizeof buf));
}

/* add(a, b), concat {a, b, ...}: a layer applied to values as it is made.
 * The box sits at the top of the stack; pushes the value. */
static void apply_to_args(Call *c, int bi) {
    lua_State *L = c->L;
    int vi[KILN_MAX_INPUTS], n = 0;
    char what[32];
    if (c->op->values_args == 1) {   /* two values */
        if (c->nargs != 2) call_fail(c, "takes two values, as in %s(a, b), got %d argument%s", c->name, c->nargs,
                                     c->nargs == 1 ? "" : "s");
        for (int i = 1; i <= 2; i++) {
            snprintf(what, sizeof what, "argument %d", i);
            check_value(c, i, what);
            vi[n++] = i;
        }
    } else {   /* a list of values */
        char buf[80];
        if (c->nargs != 1 || !lua_istable(L, 1))
            call_fail(c, "takes a list of values, as in %s {a, b}, got %s", c->name, lua_show(L, 1, buf, sizeof buf));
        n = (int)lua_rawlen(L, 1);
        if (n < 2 || n > KILN_MAX_INPUTS)
            call_fail(c, "joins 2 to %d values, got %d", KILN_MAX_INPUTS, n);
        if (!lua_checkstack(L, n + 4)) call_fail(c, "out of stack");
        for (int i = 0; i < n; i++) {
            lua_rawgeti(L, 1, i + 1);
            vi[i] = lua_gettop(L);
            snprintf(what, sizeof what, "value %d", i + 1);
            check_value(c, vi[i], what);
        }
    }
    push_tensor(L, bi, vi, n, c->loc);
}

/* Upvalue 1: the OpDef.  Returns a kiln.value holding the parsed Layer
 * (its attributes kept beside it, outside the state) — or, for a layer
 * called on values directly (add, concat), the value it makes. */
static int dsl_construct(lua_State *L) {
    const OpDef *op = lua_touserdata(L, lua_upvalueindex(1));
    Call c = { L, lua_gettop(L), op->name, caller_loc(L), op };
    Layer *l = push_box(L, op, c.loc);
    if (op->values_args) {
        apply_to_args(&c, lua_gettop(L));
        return 1;
    }
    op->parse(&c, l);
    return 1;
}

/* a layer called on a value: relu()(h), linear(10)(h), a block(h) */
static int dsl_apply(lua_State *L) {
    Layer *l = luaL_checkudata(L, 1, "kiln.value");
    char buf[80];
    Call c = { L, lua_gettop(L) - 1, l->op->name, caller_loc(L), l->op };
    if (l->op->kind != OP_LAYER)
        call_fail(&c, "is not a layer: only layers such as linear(10) or relu() are called on a value");
    if (c.nargs != 1 || !luaL_testudata(L, 2, "kiln.tensor")) {
        char call[64];
        if (l->op->describe) l->op->describe(l, call);
        else snprintf(call, sizeof call, "%s()", l->op->name);
        call_fail(&c, "a layer is called on one value, as in %s(h), got %s", call,
                  c.nargs == 1 ? lua_show(L, 2, buf, sizeof buf) : c.nargs ? "several arguments" : "nothing");
    }
    apply_layer(L, 1, 2, c.loc, 0);
    return 1;
}

/* sequential {layer, ...}: a block of layers, applied in order. */
static int dsl_sequential(lua_State *L) {
    char buf[80];
    Call c = { L, lua_gettop(L), "sequential", caller_loc(L), &op_sequential };
    if (c.nargs != 1 || !lua_istable(L, 1))
        call_fail(&c, "takes a list of layers, as in sequential { linear(256), relu() }, got %s",
                  lua_show(L, 1, buf, sizeof buf));
    int n = (int)lua_rawlen(L, 1);
    if (n < 1 || n > KILN_MAX_LAYERS) call_fail(&c, "takes 1 to %d layers, got %d", KILN_MAX_LAYERS, n);
    lua_createtable(L, n, 0);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        Layer *l = luaL_testudata(L, -1, "kiln.value");
        if (!l || l->op->kind != OP_LAYER || l->op->values_args)
            call_fail(&c, "element %d must be a layer like linear(10) or relu(), got %s", i,
                      lua_show(L, -1, buf, sizeof buf));
        lua_rawseti(L, -2, i);
    }
    push_box(L, &op_sequential, c.loc);
    lua_insert(L, -2);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

static int value_tostring(lua_State *L) {
    Layer *l = luaL_checkudata(L, 1, "kiln.value");
    lua_pushfstring(L, "%s() at %s:%d", l->op->name, l->loc.file, l->loc.line);
    return 1;
}

static int tensor_tostring(lua_State *L) {
    Tensor *t = luaL_checkudata(L, 1, "kiln.tensor");
    if (!t->layer) lua_pushliteral(L, "the model's input x");
    else lua_pushfstring(L, "value of %s() at %s:%d", t->layer->l.op->name, t->loc.file, t->loc.line);
    return 1;
}

/* model{...}: the spec's result.  A userdata carrying the table and the
 * place of the call (user value 1 is the table). */
typedef struct {
    Loc loc;
    Loc forward;   /* where forward is defined (its first line) */
} ModelDecl;

static int dsl_model(lua_State *L) {
    Loc loc = caller_loc(L);
    if (lua_gettop(L) != 1 || !lua_istable(L, 1))
        return luaL_error(L, "%s:%d: model: expects one table, as in model { name = \"mlp\", layers = {...}, ... }",
                          loc.file, loc.line);
    ModelDecl *m = lua_newuserdatauv(L, sizeof *m, 2);   /* 2: what forward returns */
    m->loc = loc;
    luaL_setmetatable(L, "kiln.model");
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

/* print goes to stderr: stdout may carry generated C.  Lines and tabs as
 * they are, other control characters escaped (error.c's escape_piece): a
 * spec cannot drive the terminal through it. */
static int dsl_print(lua_State *L) {
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        if (i > 1) fputc('\t', stderr);
        char piece[8];
        for (const char *s = luaL_tolstring(L, i, NULL); *s;) {
            s += escape_piece(s, piece, 1);
            fputs(piece, stderr);
        }
        lua_pop(L, 1);
    }
    fputc('\n', stderr);
    return 0;
}

/* ---- reading model{...} into a Spec ------------------------------------- */

static const char *const model_fields[] = {
    "name", "input", "classes", "layers", "forward", "loss", "optimizer", "data", "batch", "epochs", "seed", NULL,
};

_Noreturn static void field_fail(const Spec *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void field_fail(const Spec *s, const char *fmt, ...) {
    static StrBuf sb;   /* reused: nothing to free when a host recovers from the failure */
    sb.len = 0;
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    fail_at(&s->loc, "model: %s", sb.data);
}

/* model{}'s table[key] pushed, read raw: read_model runs outside the
 * sandbox's protected call, where a metamethod (an __index that errors or
 * loops) would abort or hang kiln. */
static int raw_field(lua_State *L, const char *key) {
    lua_pushstring(L, key);
    return lua_rawget(L, -2);
}

static long field_int(lua_State *L, const Spec *s, const char *key, long lo, long hi, long dflt) {
    char buf[80];
    int t = raw_field(L, key);
    long v = dflt;
    if (t != LUA_TNIL) {
        double d = lua_tonumber(L, -1);
        if (t != LUA_TNUMBER || d != floor(d) || d < (double)lo || d > (double)hi)
            field_fail(s, "%s must be a whole number from %ld to %ld, got %s", key, lo, hi,
                       lua_show(L, -1, buf, sizeof buf));
        v = (long)d;
    } else if (dflt < 0) {
        field_fail(s, "missing field %s", key);
    }
    lua_pop(L, 1);
    return v;
}

static void field_value(lua_State *L, const Spec *s, const char *key, OpKind kind, const char *example,
                        Layer *out, int required) {
    char buf[80];
    if (raw_field(L, key) == LUA_TNIL) {
        if (required) field_fail(s, "missing field %s, e.g. %s = %s", key, key, example);
        lua_pop(L, 1);
        return;
    }
    Layer *l = luaL_testudata(L, -1, "kiln.value");
    if (!l || l->op->kind != kind)
        field_fail(s, "%s must be something like %s, got %s", key, example, lua_show(L, -1, buf, sizeof buf));
    *out = *l;
    lua_pop(L, 1);
}

/* A name safe for C identifiers and file names: [A-Za-z0-9_], not leading digit. */
static void safe_name(const char *in, char *out, size_t n) {
    size_t j = 0;
    if (isdigit((unsigned char)in[0])) out[j++] = 'm';
    for (size_t i = 0; in[i] && j + 1 < n; i++)
        out[j++] = isalnum((unsigned char)in[i]) ? in[i] : '_';
    out[j] = 0;
    if (j == 0) snprintf(out, n, "model");
}

/* Appends an Apply of layer l, applied at `at`, reading in[0..nin). */
static void add_app(Spec *s, const Layer *l, Loc at, const int *in, int nin) {
    if (s->napps == KILN_MAX_LAYERS)
        fail_at(&at, "%s: the model applies more than %d layers, kiln's limit", l->op->name, KILN_MAX_LAYERS);
    Apply *a = &s->apps[s->napps++];
    a->layer = *l;
    a->layer.loc = at;
    a->nin = nin;
    memcpy(a->in, in, sizeof *in * (size_t)nin);
}

/* The layers list at the top of the stack, as a chain after the last Apply
 * (blocks expanded in place).  A layer with parameters appears once. */
static void read_list(lua_State *L, Spec *s, int depth) {
    char buf[80];
    int n = (int)lua_rawlen(L, -1);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, -1, i + 1);
        LayerBox *b = luaL_testudata(L, -1, "kiln.value");
        if (!b || b->l.op->kind != OP_LAYER || b->l.op->values_args)
            field_fail(s, "layers[%d] must be a layer like linear(10) or relu(), got %s", i + 1,
                       lua_show(L, -1, buf, sizeof buf));
        if (b->l.op == &op_sequential) {
            if (depth > 32) field_fail(s, "layers: blocks nested more than 32 deep");
            lua_getiuservalue(L, -1, 1);
            read_list(L, s, depth + 1);
            lua_pop(L, 2);
            continue;
        }
        for (int j = 0; b->l.op->params && j < s->napps; j++)
            if (s->apps[j].layer.attr == b->l.attr)
                fail_at(&b->l.loc, "%s: this layer is already in the model's layers (layer %d); kiln does not "
                        "share weights between two uses: make another layer for this one", b->l.op->name, j + 1);
        int prev = s->napps - 1;   /* -1: the model's input */
        add_app(s, &b->l, b->l.loc, &prev, 1);
        lua_pop(L, 1);
    }
}

/* What forward returned, at the top of the stack: the values it depends
 * on, in the order the spec made them, become the Applys. */
static void read_forward(lua_State *L, Spec *s, Loc at) {
    char buf[80];
    Tensor *out = luaL_testudata(L, -1, "kiln.tensor");
    if (!out)
        fail_at(&at, "forward: must return the model's output, a value made from x (as in return linear(10)(h)), "
                "got %s", lua_show(L, -1, buf, sizeof buf));
    if (!out->layer) fail_at(&at, "forward: returns x itself; apply at least one layer to it");
    /* every value the output depends on, depth first with a stack of our own */
    Tensor **found = xcalloc(KILN_MAX_LAYERS + 1, sizeof *found), **todo = xcalloc(KILN_MAX_LAYERS + 1, sizeof *todo);
    int nfound = 0, ntodo = 0, from_x = 0;
    out->app = -2;   /* -2: found */
    todo[ntodo++] = out;
    while (ntodo > 0) {
        Tensor *t = todo[--ntodo];
        if (!t->layer) { from_x = 1; continue; }
        if (nfound == KILN_MAX_LAYERS) {
            free(found), free(todo);
            fail_at(&t->loc, "the model applies more than %d layers, kiln's limit", KILN_MAX_LAYERS);
        }
        found[nfound++] = t;
        for (int k = 0; k < t->nin; k++)
            if (t->in[k]->app != -2) {
                t->in[k]->app = -2;
                todo[ntodo++] = t->in[k];
            }
    }
    free(todo);
    if (!from_x) {
        free(found);
        fail_at(&at, "forward: its result does not depend on x; make it from the x forward is given");
    }
    /* in the order they were made: inputs before the values made of them */
    for (int i = 1; i < nfound; i++)
        for (int j = i; j > 0 && found[j - 1]->seq > found[j]->seq; j--) {
            Tensor *t = found[j];
            found[j] = found[j - 1];
            found[j - 1] = t;
        }
    for (int i = 0; i < nfound; i++) {
        Tensor *t = found[i];
        int in[KILN_MAX_INPUTS];
        for (int k = 0; k < t->nin; k++) in[k] = t->in[k]->layer ? t->in[k]->app : -1;
        t->app = s->napps;
        add_app(s, &t->layer->l, t->loc, in, t->nin);
    }
    free(found);
}

static void read_model(lua_State *L, Spec *s) {
    ModelDecl *m = luaL_testudata(L, -1, "kiln.model");
    if (!m) {
        Loc loc = { s->file, 0 };
        fail_at(&loc, "the spec must end with 'return model { ... }', but it returned %s",
                lua_isnil(L, -1) ? "nothing" : luaL_typename(L, -1));
    }
    s->loc = m->loc;
    lua_getiuservalue(L, -1, 1);

    /* unknown fields first: a typo should not surface as a missing field */
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        const char *key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int known = 0;
        for (int i = 0; key && model_fields[i]; i++) known |= strcmp(key, model_fields[i]) == 0;
        if (!known) {
            const char *near = key ? nearest_name(key, model_fields) : NULL;
            if (near) field_fail(s, "unknown field '%s'; did you mean '%s'?", key, near);
            static StrBuf list;   /* reused: nothing to free when a host recovers from the failure */
            list.len = 0;
            sb_join(&list, model_fields);
            field_fail(s, "unknown field %s%s%s (valid: %s)", key ? "'" : "", key ? key : "without a name",
                       key ? "'" : "", list.data);
        }
    }

    char buf[80];
    /* name */
    if (raw_field(L, "name") == LUA_TNIL) {
        const char *base = strrchr(s->file, '/');
        base = base ? base + 1 : s->file;
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s", base);
        char *dot = strrchr(tmp, '.');
        if (dot && dot != tmp) *dot = 0;
        s->name = xstrdup(tmp);
    } else if (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) > 0 && lua_rawlen(L, -1) <= 200) {
        s->name = xstrdup(lua_tostring(L, -1));
    } else {
        field_fail(s, "name must be a string of 1 to 200 characters, got %s", lua_show(L, -1, buf, sizeof buf));
    }
    lua_pop(L, 1);
    safe_name(s->name, s->cname, sizeof s->cname);

    /* input */
    if (raw_field(L, "input") != LUA_TTABLE)
        field_fail(s, "input must be the shape of one example, e.g. input = {1, 28, 28}, got %s",
                   lua_show(L, -1, buf, sizeof buf));
    s->input_rank = (int)lua_rawlen(L, -1);
    if (s->input_rank < 1 || s->input_rank > 3)
        field_fail(s, "input must list 1 to 3 sizes, e.g. {1, 28, 28}, got %d", s->input_rank);
    long total = 1;
    for (int i = 0; i < s->input_rank; i++) {
        lua_rawgeti(L, -1, i + 1);
        double d = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || d != floor(d) || d < 1 || d > KILN_MAX_DIM)
            field_fail(s, "input[%d] must be a whole number from 1 to %d, got %s", i + 1, KILN_MAX_DIM,
                       lua_show(L, -1, buf, sizeof buf));
        s->input[i] = (long)d;
        total *= s->input[i];
        if (total > KILN_MAX_DIM)
            field_fail(s, "input has more than %d values per example", KILN_MAX_DIM);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    s->classes = field_int(L, s, "classes", 2, 256, 0);   /* 0: not a classifier (mse) */
    s->batch = field_int(L, s, "batch", 1, KILN_MAX_BATCH, 256);
    s->epochs = field_int(L, s, "epochs", 0, 1000000, 10);
    s->seed = (uint64_t)field_int(L, s, "seed", 0, (1L << 53), 0);

    /* layers, or forward: the graph the model applies to its input */
    s->apps = xcalloc(KILN_MAX_LAYERS, sizeof *s->apps);
    int has_layers = raw_field(L, "layers") != LUA_TNIL;
    lua_pop(L, 1);
    int has_forward = raw_field(L, "forward") != LUA_TNIL;
    lua_pop(L, 1);
    if (has_layers && has_forward)
        field_fail(s, "gives both layers and forward; give one: layers for a chain, forward for a graph");
    if (has_forward) {
        lua_getiuservalue(L, -2, 2);   /* what forward returned (spec_load called it) */
        read_forward(L, s, m->forward);
        lua_pop(L, 1);
    } else {
        if (raw_field(L, "layers") != LUA_TTABLE)
            field_fail(s, "layers must be a list like { flatten(), linear(10) } (or give forward = "
                       "function(x) ... end), got %s", lua_show(L, -1, buf, sizeof buf));
        if (lua_rawlen(L, -1) < 1) field_fail(s, "layers is empty; list at least one layer, e.g. { flatten(), linear(10) }");
        read_list(L, s, 0);
        lua_pop(L, 1);
    }

    field_value(L, s, "loss", OP_LOSS, "softmax_cross_entropy()", &s->loss, 1);
    field_value(L, s, "optimizer", OP_OPTIM, "sgd { lr = 0.1 }", &s->optimizer, 1);
    rate_resolve(s->optimizer.op->optim->rate(&s->optimizer), s->epochs);
    field_value(L, s, "data", OP_DATA, "fashion_mnist()", &s->data, 0);
    if (!s->data.op) {   /* default data set: Fashion-MNIST (the 1 MiB above the cap holds it) */
        s->data.op = &op_fashion_mnist;
        s->data.loc = s->loc;
        s->data.attr = spec_keep(L, op_fashion_mnist.attr_size);
        Call c = { L, 0, "fashion_mnist", s->loc, &op_fashion_mnist };
        s->data.op->parse(&c, &s->data);
    }
    lua_pop(L, 1);
    s->data.op->data->check(s, &s->data);

    /* labels: op name + its count, e.g. linear1, relu1, linear2 */
    for (int i = 0; i < s->napps; i++) {
        Layer *l = &s->apps[i].layer;
        int k = 1;
        for (int j = 0; j < i; j++) k += s->apps[j].layer.op == l->op;
        snprintf(l->label, sizeof l->label, "%s%d", l->op->name, k);
        l->index = i;
    }
    snprintf(s->loss.label, sizeof s->loss.label, "%s", s->loss.op->name);
    snprintf(s->optimizer.label, sizeof s->optimizer.label, "%s", s->optimizer.op->name);
}

/* s lower-cased and without '_', for matching PyTorch's and other
 * spellings: Conv2d, MaxPool2d, maxpool → conv2d, maxpool2d, maxpool. */
static void folded(const char *s, char *out, size_t n) {
    size_t j = 0;
    for (; *s && j + 1 < n; s++)
        if (*s != '_') out[j++] = (char)tolower((unsigned char)*s);
    out[j] = 0;
}

/* PyTorch's names (folded) of what kiln calls otherwise. */
static const struct { const char *torch, *kiln; } torch_names[] = {
    { "crossentropyloss", "softmax_cross_entropy" }, { "crossentropy", "softmax_cross_entropy" },
    { "mseloss", "mse" }, { "batchnorm1d", "batch_norm" }, { "batchnorm2d", "batch_norm" },
    { "batchnorm", "batch_norm" }, { "adaptiveavgpool2d", "global_avg_pool2d" },
    { "xavieruniform", "xavier" }, { "kaimingnormal", "kaiming" }, { "fashionmnist", "fashion_mnist" },
    { "steplr", "step_lr" }, { "cosineannealinglr", "cosine_lr" }, { "cosineannealing", "cosine_lr" },
};

/* The kind of name the spec's line wants where word is called: the field
 * it is the value of (loss = …, optimizer = …, init = …, data = …, lr = …),
 * else a layer (in layers = {…} or forward). */
static OpKind kind_at(const char *line, const char *word) {
    for (const char *p = strstr(line, word); p; p = strstr(p + 1, word)) {
        if (p > line && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.')) continue;
        const char *q = p;
        while (q > line && isspace((unsigned char)q[-1])) q--;
        if (q == line || q[-1] != '=' || (q - 1 > line && strchr("=~<>", q[-2]))) return OP_LAYER;
        q--;
        while (q > line && isspace((unsigned char)q[-1])) q--;
        const char *e = q;
        while (q > line && (isalnum((unsigned char)q[-1]) || q[-1] == '_')) q--;
        size_t n = (size_t)(e - q);
        if (n == 4 && !strncmp(q, "loss", 4)) return OP_LOSS;
        if (n == 9 && !strncmp(q, "optimizer", 9)) return OP_OPTIM;
        if ((n == 4 && !strncmp(q, "init", 4)) || (n == 9 && !strncmp(q, "bias_init", 9))) return OP_INIT;
        if (n == 4 && !strncmp(q, "data", 4)) return OP_DATA;
        if (n == 2 && !strncmp(q, "lr", 2)) return OP_SCHEDULE;
        return OP_LAYER;
    }
    return OP_LAYER;
}

static char spec_line[256];   /* the spec's line an error names, for unknown_name */
static StrBuf kept_src;       /* the spec's text, for spec_line (reused: nothing to free when a host recovers) */

/* Keep the spec's text (src, now owned here) for the messages. */
static void spec_source_keep(StrBuf *src) {
    sb_free(&kept_src);
    kept_src = *src;
    *src = (StrBuf){ 0 };
}

/* Line `line` (from 1) of the kept text into spec_line, or "". */
static void pick_line(int line) {
    spec_line[0] = 0;
    const char *p = kept_src.data;
    for (int l = 1; p && l < line; l++) {
        p = memchr(p, '\n', kept_src.len - (size_t)(p - kept_src.data));
        if (p) p++;
    }
    if (!p || line < 1) return;
    size_t n = strcspn(p, "\n");
    snprintf(spec_line, sizeof spec_line, "%.*s", (int)(n < sizeof spec_line - 1 ? n : sizeof spec_line - 1), p);
}

/* "attempt to call a nil value (global 'Conv2D')" → "unknown layer
 * 'Conv2D'; did you mean conv2d()? (layers: flatten, …)" in out: the
 * nearest name of the kind the line wants, matched without case or '_'
 * and through PyTorch's names; nothing if msg is another error. */
static void unknown_name(const char *msg, char *out, size_t n) {
    const char *p = strstr(msg, "(global '");
    if (!p || strncmp(msg, "attempt to call a nil value", 27) != 0) return;
    char word[64], fword[64], fnames[64][32];
    if (sscanf(p + 9, "%63[A-Za-z0-9_]", word) != 1) return;
    static const char *const removed[] = { "require", "load", "loadfile", "dofile", "loadstring", "collectgarbage",
                                           "module", NULL };   /* Lua's, not in the sandbox */
    for (int i = 0; removed[i]; i++)
        if (!strcmp(word, removed[i])) {
            snprintf(out, n, "'%s' is not available in a spec: specs run in a sandbox that cannot read files, "
                     "load code or modules (see docs/spec.md)", word);
            return;
        }
    OpKind kind = kind_at(spec_line, word);
    const char *names[64], *folds[64];
    int k = 0;
    for (int i = 0; kiln_ops[i] && k < 62; i++) {
        if (kiln_ops[i]->kind != kind) continue;
        names[k] = kiln_ops[i]->name;
        folded(names[k], fnames[k], sizeof fnames[k]);
        folds[k] = fnames[k];
        k++;
    }
    names[k] = folds[k] = NULL;
    folded(word, fword, sizeof fword);
    const char *near = NULL;
    for (size_t i = 0; !near && i < sizeof torch_names / sizeof *torch_names; i++)
        if (!strcmp(fword, torch_names[i].torch) && op_find(torch_names[i].kiln)->kind == kind) near = torch_names[i].kiln;
    for (int i = 0; !near && i < k; i++)
        if (!strcmp(fword, folds[i])) near = names[i];
    if (!near) {
        const char *f = nearest_name(fword, folds);
        for (int i = 0; f && i < k; i++)
            if (folds[i] == f) near = names[i];
    }
    static const char *const one[] = { "layer", "loss", "optimizer", "initializer", "data set",   /* ORDER OpKind */
                                       "learning-rate schedule" };
    static const char *const many[] = { "layers", "losses", "optimizers", "initializers", "data sets",
                                        "schedules" };
    size_t at = (size_t)snprintf(out, n, "unknown %s '%s'", one[kind], word);
    if (near && at < n) at += (size_t)snprintf(out + at, n - at, "; did you mean %s()?", near);
    if (at < n) at += (size_t)snprintf(out + at, n - at, " (%s:", many[kind]);
    const char *sep = " ";
    for (int i = 0; names[i] && at < n; i++) {
        at += (size_t)snprintf(out + at, n - at, "%s%s", sep, names[i]);
        sep = ", ";
    }
    if (at < n) snprintf(out + at, n - at, ")");
}

/* ---- the error a spec ends with ---------------------------------------- */

static int error_line;               /* the spec line the message handler saw; 0: none */
static char short_src[LUA_IDSIZE];   /* the spec as Lua's own messages name it (the path, cut to fit) */

/* lua_pcall's message handler: note the innermost spec line on the stack
 * when the error struck, for messages that carry no place of their own
 * (error("x", 0), error({}), "C stack overflow" raised in C) or carry the
 * prelude's.  It runs wherever the error struck, at the C stack's or the
 * memory's limit too, so it allocates nothing and pushes nothing: the error
 * object goes back as it came. */
static int on_error(lua_State *L) {
    error_line = caller_loc(L).line;
    return 1;
}

/* If msg begins with "NAME:LINE: ", the LINE in *line and what follows. */
static const char *after_place(const char *msg, const char *name, int *line) {
    size_t n = strlen(name);
    if (n == 0 || strncmp(msg, name, n) != 0 || msg[n] != ':' || !isdigit((unsigned char)msg[n + 1])) return NULL;
    char *end;
    long l = strtol(msg + n + 1, &end, 10);
    if (end[0] != ':' || end[1] != ' ' || l > INT_MAX) return NULL;
    *line = (int)l;
    return end + 2;
}

/* Fail with the error the spec's load or run ended in (on top of the stack,
 * status its lua_pcall's), on one line naming the spec: Lua's own place
 * ("short_src:LINE: ") is written with the full path, the prelude's
 * ("prelude:LINE: ") becomes the spec line that called into the prelude,
 * and a message without a place gets the line the handler saw (or the file
 * alone).  Nothing here may raise a Lua error: no pcall is around it. */
_Noreturn static void fail_spec_error(lua_State *L, int status) {
    Loc loc = { spec_path, error_line };
    Loc file = { spec_path, 0 };
    char text[64], hint[512] = "";
    const char *msg = NULL, *rest;
    int line;
    if (lua_type(L, -1) == LUA_TSTRING) {
        msg = lua_tostring(L, -1);
    } else if (lua_type(L, -1) == LUA_TNUMBER) {   /* error(42): formatted here, lua_tostring would allocate */
        if (lua_isinteger(L, -1)) snprintf(text, sizeof text, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, -1));
        else snprintf(text, sizeof text, LUA_NUMBER_FMT, (LUAI_UACNUMBER)lua_tonumber(L, -1));
        msg = text;
    }
    if (status == LUA_ERRMEM || (msg && strcmp(msg, "not enough memory") == 0))
        fail_at(&file, "spec uses more than %u MiB of memory; kiln stops specs there", SPEC_MEMORY_LIMIT >> 20);
    if (!msg)
        fail_at(&loc, "the spec raised a %s value as its error; give error() a message string", luaL_typename(L, -1));
    if ((rest = after_place(msg, short_src, &line)) || (rest = after_place(msg, spec_path, &line))) {
        msg = rest;
        loc.line = line;
    } else if ((rest = after_place(msg, "prelude", &line))) {
        msg = rest;
    }
    char unknown[640] = "";
    if (strcmp(msg, "C stack overflow") == 0) snprintf(hint, sizeof hint, " (calls, tables or parentheses nested too deeply)");
    else pick_line(loc.line), unknown_name(msg, unknown, sizeof unknown);
    if (unknown[0]) fail_at(&loc, "%s", unknown);
    fail_at(&loc, "%s%s", msg, hint);
}

/* The spec's text into src.  Only a regular file: a directory gets one line
 * saying so, and a FIFO, socket or device is refused instead of waited on
 * (opened without blocking, then checked). */
static void read_spec(const char *path, StrBuf *src) {
    Loc loc = { path, 0 };
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) fail_at(&loc, "cannot read the spec: %s", strerror(errno));
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        fail_at(&loc, "cannot read the spec: it is %s, not a file; give the path of a spec such as models/mlp.lua",
                file_kind(st.st_mode));
    }
    const char *bad = NULL;
    char buf[8192];
    ssize_t got;
    while (!bad && (got = read(fd, buf, sizeof buf)) != 0) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int err = errno;
            close(fd);
            sb_free(src);
            fail_at(&loc, "cannot read the spec: %s", strerror(err));
        }
        if (src->len + (size_t)got > (8u << 20)) bad = "spec is larger than 8 MiB";
        else if (memchr(buf, 0, (size_t)got)) bad = "spec is not a text file (it holds NUL bytes)";
        else sb_printf(src, "%.*s", (int)got, buf);
    }
    close(fd);
    if (bad) {
        sb_free(src);
        fail_at(&loc, "%s", bad);
    }
}

static void close_state(void *L) { lua_close(L); }

/* model { forward = function(x) ... end }: call it on the model's input,
 * in the sandbox (protected, under the same limits as the spec), and keep
 * what it returns as the model's user value 2.  The model is at the top of
 * the stack, the message handler below it. */
static void call_forward(lua_State *L) {
    int handler = lua_absindex(L, -2);
    ModelDecl *m = luaL_testudata(L, -1, "kiln.model");
    if (!m) return;   /* read_model says what is wrong */
    lua_getiuservalue(L, -1, 1);
    lua_pushliteral(L, "forward");
    int type = lua_rawget(L, -2);
    lua_remove(L, -2);
    if (type == LUA_TNIL) { lua_pop(L, 1); return; }
    if (type != LUA_TFUNCTION)
        fail_at(&m->loc, "model: forward must be a function, as in forward = function(x) return linear(10)(x) end, "
                "got %s", lua_typename(L, type));
    lua_Debug ar;
    lua_pushvalue(L, -1);
    lua_getinfo(L, ">S", &ar);
    m->forward = (Loc){ m->loc.file, ar.linedefined > 0 ? ar.linedefined : m->loc.line };
    tensors_made = 0;
    push_tensor(L, 0, NULL, 0, m->loc);   /* x */
    int ran = lua_pcall(L, 1, 1, handler);
    if (ran != LUA_OK) fail_spec_error(L, ran);
    lua_setiuservalue(L, -2, 2);
}

void spec_load(const char *path, Spec *s) {
    memset(s, 0, sizeof *s);
    s->file = xstrdup(path);
    spec_path = s->file;

    Budget budget = { 0, SPEC_MEMORY_LIMIT };
    lua_State *L = lua_newstate(capped_alloc, &budget);
    if (!L) fail("cannot create a Lua state");
    fail_on_recover(close_state, L);   /* only a recovering host (the fuzzer) gets there */
    static const luaL_Reg libs[] = {
        { LUA_GNAME, luaopen_base }, { LUA_TABLIBNAME, luaopen_table }, { LUA_STRLIBNAME, luaopen_string },
        { LUA_MATHLIBNAME, luaopen_math }, { LUA_UTF8LIBNAME, luaopen_utf8 }, { NULL, NULL },
    };
    for (const luaL_Reg *lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    /* __metatable: a spec cannot reach these (to add a __gc, say) */
    luaL_newmetatable(L, "kiln.value");
    lua_pushcfunction(L, value_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, dsl_apply);
    lua_setfield(L, -2, "__call");
    lua_pushliteral(L, "kiln.value");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    luaL_newmetatable(L, "kiln.tensor");
    lua_pushcfunction(L, tensor_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "kiln.tensor");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    luaL_newmetatable(L, "kiln.model");
    lua_pushliteral(L, "kiln.model");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    /* prelude(dsl) → the sandbox environment */
    if (luaL_loadbufferx(L, prelude_source, sizeof prelude_source - 1, "=prelude", "t") != LUA_OK)
        fail("internal error: prelude: %s", lua_tostring(L, -1));
    lua_newtable(L);
    for (int i = 0; kiln_ops[i]; i++) {
        lua_pushlightuserdata(L, (void *)kiln_ops[i]);
        lua_pushcclosure(L, dsl_construct, 1);
        lua_setfield(L, -2, kiln_ops[i]->name);
    }
    lua_pushcfunction(L, dsl_model);
    lua_setfield(L, -2, "model");
    lua_pushcfunction(L, dsl_sequential);
    lua_setfield(L, -2, "sequential");
    lua_pushcfunction(L, dsl_print);
    lua_setfield(L, -2, "print");
    lua_pushcfunction(L, dsl_limit_hit);
    lua_setfield(L, -2, "_limit_hit");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) fail("internal error: prelude: %s", lua_tostring(L, -1));
    int env = lua_gettop(L);

    /* the spec: text only (no precompiled bytecode), run in the sandbox */
    StrBuf src = {0};
    read_spec(path, &src);
    StrBuf chunkname = {0};
    sb_printf(&chunkname, "@%s", path);
    /* Lua's messages name the spec by its short source (the path, cut to
     * LUA_IDSIZE behind a "..."): learn it from an empty chunk of the same
     * name, since the spec itself may not load */
    short_src[0] = 0;
    error_line = 0;
    if (luaL_loadbufferx(L, "", 0, chunkname.data, "t") == LUA_OK) {
        lua_Debug ar;
        lua_getinfo(L, ">S", &ar);
        snprintf(short_src, sizeof short_src, "%s", ar.short_src);
    } else {
        lua_pop(L, 1);
    }
    int loaded = luaL_loadbufferx(L, src.data ? src.data : "", src.len, chunkname.data, "t");
    spec_source_keep(&src);
    sb_free(&chunkname);
    if (loaded != LUA_OK) fail_spec_error(L, loaded);
    lua_pushvalue(L, env);
    lua_setupvalue(L, -2, 1);   /* _ENV of the chunk = the sandbox */

    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    instructions_run = 0;
    limit_message[0] = 0;
    Loc file = { path, 0 };
    fail_format(timeout_message, sizeof timeout_message - 1, &file,
                "spec still running after %d seconds; kiln stops specs there", SPEC_SECONDS_LIMIT);
    strcat(timeout_message, "\n");
    /* a recovering host (the fuzzer) owns SIGALRM: libFuzzer's -timeout uses it */
    int backstop = !fail_recovering();
    if (backstop) backstop_start();
    lua_pushcfunction(L, on_error);
    lua_insert(L, -2);
    int ran = lua_pcall(L, 0, 1, -2);
    if (ran != LUA_OK) fail_spec_error(L, ran);
    call_forward(L);
    /* read_model runs unprotected, so nothing in it may raise a Lua error:
     * it reads raw (no metamethods), the collector is stopped (no __gc
     * finalizers run) and it gets 1 MiB above the cap (no memory error).
     * The finalizers run in lua_close, still under the instruction limit
     * and the wall clock. */
    lua_gc(L, LUA_GCSTOP);
    budget.limit += 1u << 20;
    read_model(L, s);
    fail_on_recover(NULL, NULL);
    lua_close(L);
    if (backstop) backstop_stop();
}

void spec_free(Spec *s) {
    sb_free(&kept_src);
    free(s->file);
    free(s->name);
    free(s->apps);
    for (size_t i = 0; i < nowned; i++) free(owned[i]);
    free(owned);
    owned = NULL;
    nowned = capowned = 0;
    memset(s, 0, sizeof *s);
}
