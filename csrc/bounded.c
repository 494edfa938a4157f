/* bounded.c: runs policy code (policy files, rules) under budgets, with a C
 * debug hook: VM instructions, Lua heap growth, C stack growth, string.rep's
 * result size, no string.dump; through a C call boundary, so that it cannot
 * yield; and with the state's allocator wrapped, so that no single operation
 * (a table.concat, a gsub, a concatenation of many strings: one C call or one
 * instruction, between two checks of the hook) can grow the heap past a hard
 * cap. No OpenSSL here: the mechanism behind clientcert.policy.
 *
 *   ok, ... = core._run_bounded(limits, fn, ...)
 *
 * Why C: a Lua hook runs VM instructions of its own, and on Lua 5.4 those
 * count towards the instruction count, so a count event that falls due inside
 * the hook is lost; a loop whose length matches the hook's never reaches the
 * budget. A C hook runs no VM instructions, and it can save and restore any
 * hook the host had (a Lua hook or a C one). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include "clientcert.h"

/* One bounded run; lives on the C stack of bounded_run_call, which cannot be
 * left before the run ends (no yield), and is found by the hook through the
 * registry (BOUNDED_KEY -> light userdata). */
typedef struct {
    lua_Hook old_hook;        /* the host's hook, restored after */
    int old_mask, old_count;
    double ticks, limit;      /* count events so far, the most allowed */
    double steps;             /* the instruction budget, for the message */
    double base_kb, kb;       /* Lua heap at the start, the growth allowed (KiB) */
    double credit, step;      /* collector work still on offer, per tick (KiB) */
    int cycles;               /* collection cycles completed while over */
    uintptr_t cbase;          /* C stack depth at the start */
    double cmax;              /* C stack growth allowed (bytes) */
    double max_string;        /* the longest string.rep result */
    lua_Alloc old_alloc;      /* the state's allocator and its ud, restored after */
    void *old_ud;
    double alloc_cap;         /* the most the heap may grow by, checked at each allocation (bytes) */
    double alloc_net;         /* bytes allocated minus bytes freed since the start */
    int refused;              /* an allocation was refused at alloc_cap (and not given when tried again) */
    int pending;              /* the last allocation was refused, and Lua may try it again */
    const void *pend_ptr;     /* that allocation's arguments */
    size_t pend_osize, pend_nsize;
    const void *rep, *dump;   /* the host's string.rep and string.dump */
    const void *pat[4];       /* the host's string.find, match, gmatch, gsub */
    double pat_steps, pat_limit; /* pattern matcher steps so far, the most allowed */
    double seconds, deadline; /* the wall-clock time allowed, when it runs out (CLOCK_MONOTONIC) */
    char spent[200];          /* why the run is stopped; "" while it may run */
} bounded_state;

static const char BOUNDED_KEY = 0;

/* The run in progress in L's VM, or NULL. */
static bounded_state *bounded_current(lua_State *L)
{
    bounded_state *r;
    lua_pushlightuserdata(L, (void *)&BOUNDED_KEY);
    lua_rawget(L, LUA_REGISTRYINDEX);                 /* r | nil */
    r = (bounded_state *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return r;
}

/* Records r (or NULL) as the run in progress; once the key exists this never
 * allocates, so it cannot raise after the run. */
static void bounded_set_current(lua_State *L, bounded_state *r)
{
    lua_pushlightuserdata(L, (void *)&BOUNDED_KEY);
    if (r != NULL)
        lua_pushlightuserdata(L, r);
    else
        lua_pushboolean(L, 0);                        /* keeps the key: no allocation next time */
    lua_rawset(L, LUA_REGISTRYINDEX);
}

/* The address of the caller's frame: how deep the C stack is. */
static uintptr_t bounded_cstack(void)
{
#if defined(__GNUC__)
    return (uintptr_t)__builtin_frame_address(0);     /* the real frame, also under ASan */
#else
    volatile char c = 0;
    return (uintptr_t)&c;
#endif
}

/* Seconds on CLOCK_MONOTONIC (vDSO: a few nanoseconds). */
static double bounded_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The wall-clock budget, checked at every count event and every call: time
 * inside C functions (clientcert.parse_all of a large bundle, parse_pkcs12 of
 * a costly file, a sort) is not counted in instructions, so a loop of such
 * calls could otherwise run for hours within its instruction budget. */
static void bounded_clock(bounded_state *r)
{
    if (r->spent[0] == '\0' && bounded_now() > r->deadline)
        snprintf(r->spent, sizeof r->spent, "ran for more than %.0f seconds (time inside C functions counts, "
                 "such as clientcert.parse_all of a large bundle)", r->seconds);
}

static double bounded_heap_kb(lua_State *L)
{
    return (double)lua_gc(L, LUA_GCCOUNT, 0) + (double)lua_gc(L, LUA_GCCOUNTB, 0) / 1024.0;
}

/* A count event (every `every` instructions): the instruction and heap
 * budgets. The heap is never collected in full (that takes time in proportion
 * to the whole heap, on the request path): when it is over, the collector gets
 * incremental steps worth at most 2 * the budget per run, and the run is
 * stopped if the heap is still over once those are used or two cycles ended. */
static void bounded_tick(lua_State *L, bounded_state *r)
{
    double grown;
    r->ticks += 1;
    if (r->ticks > r->limit) {
        snprintf(r->spent, sizeof r->spent, "ran for more than %.0f instructions", r->steps);
        return;
    }
    grown = bounded_heap_kb(L) - r->base_kb;
    if (grown <= r->kb)
        return;
    if (r->credit > 0) {
        double n = r->step < r->credit ? r->step : r->credit;
        r->credit -= n;
        if (lua_gc(L, LUA_GCSTEP, (int)n) == 1)
            r->cycles++;
        grown = bounded_heap_kb(L) - r->base_kb;
    }
    if (grown > r->kb && (r->credit <= 0 || r->cycles >= 2))
        snprintf(r->spent, sizeof r->spent, "used more than %.0f MiB of memory", r->kb / 1024.0);
}

/* An allocation was refused at alloc_cap for good: the run is stopped, as past
 * any budget, at the hook's next event (and at its end). */
static void bounded_refused(bounded_state *r)
{
    if (!r->refused)
        snprintf(r->spent, sizeof r->spent, "used more than %.0f MiB of memory (one operation would have "
                 "grown the heap past %.0f MiB)", r->kb / 1024.0, r->alloc_cap / (1024.0 * 1024.0));
    r->refused = 1;
    r->pending = 0;
}

/* The allocator of a bounded run: the state's own, refusing (NULL) any growth
 * that would take the heap more than alloc_cap bytes past where it was at the
 * start (garbage not yet collected counts). Lua then raises "not enough
 * memory", and the run is stopped as past a budget; but Lua 5.4 first
 * collects in full and tries the same allocation again (nothing else is
 * allocated in between), and when that second try fits, the refusal is
 * forgotten: the heap did not grow past the cap. Frees and shrinks always go
 * through: Lua requires them to succeed. Calls nothing of Lua's. */
static void *bounded_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    bounded_state *r = (bounded_state *)ud;
    size_t old = ptr != NULL ? osize : 0;             /* without ptr, osize is a type tag (5.4) */
    void *p;
    if (nsize > old) {
        int again = r->pending && ptr == r->pend_ptr && osize == r->pend_osize && nsize == r->pend_nsize;
        if (r->pending && !again)
            bounded_refused(r);                       /* not tried again: Lua raised */
        r->pending = 0;
        if (r->alloc_net + (double)(nsize - old) > r->alloc_cap) {
            if (again || !CC_ALLOC_TRIES_AGAIN) {
                bounded_refused(r);
            } else {
                r->pending = 1;
                r->pend_ptr = ptr;
                r->pend_osize = osize;
                r->pend_nsize = nsize;
            }
            return NULL;
        }
    }
    p = r->old_alloc(r->old_ud, ptr, osize, nsize);
    if (p != NULL || nsize == 0)
        r->alloc_net += (double)nsize - (double)old;
    return p;
}

/* Raises with the message msg, without position (the hook has none). */
static void bounded_raise(lua_State *L, const char *msg)
{
    lua_pushstring(L, msg);
    lua_error(L);
}

/* Argument i of the C function of frame ar, which has nargs (-1: unknown, and
 * a temporary above the arguments may be read as one): its length as a string
 * (-1 when it is neither a string nor a number, or absent), or *num its value
 * as a number. Reads one argument at a time: a value pushed here would count
 * as an argument. */
static double bounded_arg(lua_State *L, lua_Debug *ar, int nargs, int i, double *num, int *isnum)
{
    double len = -1;
    if ((nargs >= 0 && i > nargs) || lua_getlocal(L, ar, i) == NULL)
        return -1;
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        size_t l = 0;
        if (num != NULL) {
            *isnum = lua_isnumber(L, -1);
            *num = lua_tonumber(L, -1);
        }
        lua_tolstring(L, -1, &l);                     /* a copy: converting it changes nothing */
        len = (double)l;
    }
    lua_pop(L, 1);
    return len;
}

/* A call of string.rep (ar: its frame): refuses a result longer than the limit
 * before anything is allocated. Arguments that are not rep's are left to rep. */
static void bounded_check_rep(lua_State *L, lua_Debug *ar, bounded_state *r)
{
    double len, n = 0, seplen, size;
    int isnum = 0;
    char msg[200];
    int nargs = cc_hook_nargs(L, ar);
    len = bounded_arg(L, ar, nargs, 1, NULL, NULL);
    bounded_arg(L, ar, nargs, 2, &n, &isnum);
    seplen = bounded_arg(L, ar, nargs, 3, NULL, NULL);
    if (len < 0 || !isnum)
        return;
    if (seplen < 0)
        seplen = 0;
    size = n <= 0 ? 0 : len * n + seplen * (n - 1);
    if (size > r->max_string) {
        snprintf(msg, sizeof msg, "string.rep: the result would be %.0f bytes; policy code may make at most %.0f",
                 size, r->max_string);
        bounded_raise(L, msg);
    }
}

static const char *const bounded_pat_names[4] = { "find", "match", "gmatch", "gsub" };

/* A call of string.find, match, gmatch or gsub (k; ar: its frame): refuses it
 * when its matching would take the run past its pattern steps, before any is
 * done (a backtracking pattern on a long subject takes longer than any request
 * may: "aaa...":find(".-.-.-b") is O(n^4)). Arguments that are not the
 * function's are left to it. */
static void bounded_check_pattern(lua_State *L, lua_Debug *ar, bounded_state *r, int k)
{
    const char *s, *p;
    size_t ls, lp;
    double init = 1, cost, left = r->pat_limit - r->pat_steps;
    int plain = 0, pushed = 0, isnum = 0, nargs = cc_hook_nargs(L, ar);
    if ((nargs >= 0 && nargs < 2) || lua_getlocal(L, ar, 1) == NULL)
        return;
    pushed++;
    if (lua_getlocal(L, ar, 2) == NULL)
        goto done;
    pushed++;
    if ((lua_type(L, -2) != LUA_TSTRING && lua_type(L, -2) != LUA_TNUMBER)
        || (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER))
        goto done;
    s = lua_tolstring(L, -2, &ls);                    /* copies: converting them changes nothing */
    p = lua_tolstring(L, -1, &lp);
    /* init and plain only where the arguments are known (Lua 5.4): else the
     * search from the start, as a pattern, which costs at least as much */
    if (k != 3 && nargs >= 3) {                       /* gsub's third argument is its replacement */
        double n = 0;
        bounded_arg(L, ar, nargs, 3, &n, &isnum);
        if (isnum)
            init = n;
    }
    if (k == 0 && nargs >= 4 && lua_getlocal(L, ar, 4) != NULL) {
        plain = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    cost = pattern_cost(bounded_pat_names[k], s, ls, p, lp, init, plain, left);
    if (cost > left) {
        lua_pop(L, pushed);
        snprintf(r->spent, sizeof r->spent, "string.%s: the pattern match would take more than %.0f steps "
                 "(a pattern that backtracks on a long subject); policy code may take %.0f in all",
                 bounded_pat_names[k], left, r->pat_limit);
        return;
    }
    r->pat_steps += cost;
done:
    lua_pop(L, pushed);
}

/* The hook of a bounded run. Once a budget is spent it raises at every
 * instruction and every call, so code that catches the error cannot go on. */
static void bounded_hook(lua_State *L, lua_Debug *ar)
{
    bounded_state *r = bounded_current(L);
    if (r == NULL)
        return;                        /* a coroutine that kept the hook of a finished run */
    if (r->pending)
        bounded_refused(r);            /* a refused allocation Lua did not try again: it raised */
    if (ar->event == LUA_HOOKCOUNT) {
        if (r->spent[0] == '\0')
            bounded_tick(L, r);
        bounded_clock(r);
    } else {                           /* a call or a tail call */
        const void *f = NULL;
        uintptr_t here = bounded_cstack();
        if (lua_getinfo(L, "f", ar)) {                /* fn */
            f = lua_topointer(L, -1);
            lua_pop(L, 1);
        }
        if (f != NULL && f == r->dump)
            bounded_raise(L, "string.dump is not available to policy code");
        if (f != NULL && f == r->rep)
            bounded_check_rep(L, ar, r);
        if (f != NULL && r->spent[0] == '\0') {
            int k;
            for (k = 0; k < 4; k++)
                if (f == r->pat[k])
                    bounded_check_pattern(L, ar, r, k);
        }
        bounded_clock(r);
        if (r->spent[0] == '\0' && (double)(here > r->cbase ? here - r->cbase : r->cbase - here) > r->cmax)
            snprintf(r->spent, sizeof r->spent, "nested too deeply through C functions (string.gsub "
                     "callbacks, table.sort comparators, metamethods, coroutines): more than %.0f KiB "
                     "of C stack", r->cmax / 1024.0);
    }
    if (r->spent[0] != '\0') {
        if (lua_gethookcount(L) != 1)
            lua_sethook(L, bounded_hook, LUA_MASKCALL | LUA_MASKCOUNT, 1);
        bounded_raise(L, r->spent);
    }
}

/* limits[k] as a number > 0 (raises otherwise: a programmer error). */
static double bounded_limit(lua_State *L, const char *k)
{
    double v;
    lua_pushstring(L, k);
    lua_rawget(L, 1);
    v = lua_tonumber(L, -1);
    if (!(v > 0))
        luaL_error(L, "clientcert.policy: limits.%s must be a number > 0", k);
    lua_pop(L, 1);
    return v;
}

/* Pushes ok (a boolean) below the values from index `base` on. */
static int bounded_results(lua_State *L, int ok, int base)
{
    luaL_checkstack(L, 1, NULL);
    lua_pushboolean(L, ok);
    lua_insert(L, base);
    return lua_gettop(L) - base + 1;
}

/* ok, ... = _run_bounded(limits, fn, ...): pcall(fn, ...) under the budgets of
 * limits = {steps =, memory = (bytes), memory_cap = (bytes: the hard cap of the
 * allocator, for growth in one step), max_string =, max_cstack = (bytes),
 * every = (instructions between two checks), rep = string.rep, dump = string.dump,
 * find, match, gmatch, gsub = the string library's, pattern_steps = the matcher
 * steps they may take in all, seconds = the wall-clock time allowed}.
 * fn cannot yield (a yield raises "attempt to yield across a C-call boundary").
 * Inside a run (a rule calling another policy's check), fn shares its budgets. */
static int bounded_run_call(lua_State *L)
{
    bounded_state r, *outer;
    int ok, every, k;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    outer = bounded_current(L);
    if (outer != NULL && lua_gethook(L) == bounded_hook) {
        lua_remove(L, 1);                                       /* fn, ... */
        ok = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0) == 0;
        return bounded_results(L, ok, 1);
    }
    memset(&r, 0, sizeof r);
    r.steps = bounded_limit(L, "steps");
    every = (int)bounded_limit(L, "every");
    r.limit = r.steps / every;
    if (r.limit != (double)(long long)r.limit)
        r.limit = (double)(long long)r.limit + 1;               /* ceil */
    r.kb = bounded_limit(L, "memory") / 1024.0;
    r.credit = 2 * r.kb;
    r.step = r.kb / 8 < 64 ? 64 : (double)(long long)(r.kb / 8);
    r.max_string = bounded_limit(L, "max_string");
    r.cmax = bounded_limit(L, "max_cstack");
    r.alloc_cap = bounded_limit(L, "memory_cap");
    lua_getfield(L, 1, "rep");
    r.rep = lua_topointer(L, -1);
    lua_getfield(L, 1, "dump");
    r.dump = lua_topointer(L, -1);
    lua_pop(L, 2);
    for (k = 0; k < 4; k++) {
        lua_getfield(L, 1, bounded_pat_names[k]);
        r.pat[k] = lua_topointer(L, -1);
        lua_pop(L, 1);
    }
    r.pat_limit = bounded_limit(L, "pattern_steps");
    r.seconds = bounded_limit(L, "seconds");
    bounded_set_current(L, &r);        /* may raise (memory) only before the hook is set */
    lua_remove(L, 1);                                           /* fn, ... */
    r.old_hook = lua_gethook(L);
    r.old_mask = lua_gethookmask(L);
    r.old_count = lua_gethookcount(L);
    r.cbase = bounded_cstack();
    r.base_kb = bounded_heap_kb(L);
    r.deadline = bounded_now() + r.seconds;
    r.old_alloc = lua_getallocf(L, &r.old_ud);
    lua_setallocf(L, bounded_alloc, &r);
    lua_sethook(L, bounded_hook, LUA_MASKCALL | LUA_MASKCOUNT, every);
    ok = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0) == 0;  /* results... | err */
    lua_sethook(L, r.old_hook, r.old_mask, r.old_count);
    lua_setallocf(L, r.old_alloc, r.old_ud);
    bounded_set_current(L, outer);
    if (r.pending)
        bounded_refused(&r);
    if (r.refused && (ok || (lua_type(L, -1) == LUA_TSTRING && strstr(lua_tostring(L, -1), "not enough memory")))) {
        /* a refused allocation stops the run even when the code caught the
         * error and returned before the hook's next event */
        lua_settop(L, 0);
        lua_pushstring(L, r.spent);
        ok = 0;
    }
    return bounded_results(L, ok, 1);
}

int bounded_open(lua_State *L)
{
    lua_pushcfunction(L, bounded_run_call);                     /* M, fn */
    lua_setfield(L, -2, "_run_bounded");                        /* M */
    return 0;
}
