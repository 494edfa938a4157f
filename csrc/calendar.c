/* calendar.c: the one calendar (proleptic Gregorian, UTC) that every date in
 * clientcert goes through (certificate times, the catalogue's messages, the
 * CLI's --time), and its one bound, CC_MAX_TIME.
 *
 *   text, err = core.time_format(secs)     -- "YYYY-MM-DDTHH:MM:SSZ", years 0000 .. 9999
 *   secs, err = core.time_parse(text)      -- "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ"
 *   core.MAX_TIME                          -- 253402300799 (9999-12-31T23:59:59Z)
 */
#include <stdio.h>
#include "clientcert.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
long long cc_days_from_civil(long long y, int m, int d)
{
    long long era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The date of a day count since 1970-01-01 (H. Hinnant's civil_from_days). */
static void calendar_civil_from_days(long long z, long long *y, int *m, int *d)
{
    long long era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int calendar_days_in_month(long long y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : days[m - 1];
}

/* time_format(secs): "YYYY-MM-DDTHH:MM:SSZ" for integer Unix seconds in
 * CC_MIN_DATE .. CC_MAX_TIME (years 0000 .. 9999: a certificate may carry a
 * date before 1970); nil, err for another number; raises for a non-number. */
static int calendar_time_format(lua_State *L)
{
    lua_Number v;
    long long secs, days, y;
    int m, d, rem;
    char out[32];

    luaL_checktype(L, 1, LUA_TNUMBER);                 /* no string coercion */
    v = lua_tonumber(L, 1);
    if (!(v >= (lua_Number)CC_MIN_DATE && v <= (lua_Number)CC_MAX_TIME) || v != (lua_Number)(long long)v) {
        lua_pushnil(L);
        lua_pushliteral(L, "clientcert.time_format: time must be an integer between "
                           "-62167219200 (0000-01-01) and 253402300799 (9999-12-31T23:59:59Z)");
        return 2;
    }
    secs = (long long)v;
    days = secs / 86400;
    rem = (int)(secs % 86400);
    if (rem < 0) {                           /* floor division for dates before 1970 */
        rem += 86400;
        days -= 1;
    }
    calendar_civil_from_days(days, &y, &m, &d);
    snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d,
             rem / 3600, rem % 3600 / 60, rem % 60);          /* y is 0 .. 9999 */
    lua_pushstring(L, out);
    return 1;
}

/* Reads n decimal digits at s; -1 when one is not a digit. */
static long long calendar_digits(const char *s, int n)
{
    long long v = 0;
    int i;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* time_parse(text): Unix seconds of "YYYY-MM-DD" (midnight UTC) or
 * "YYYY-MM-DDTHH:MM:SSZ", exactly those forms, a real calendar date (no
 * 02-31, no leap second) within 1970-01-01 .. 9999-12-31T23:59:59Z;
 * nil, "clientcert.time_parse: <what>" otherwise. */
static int calendar_time_parse(lua_State *L)
{
    size_t len;
    const char *s = cc_checkbytes(L, 1, &len);
    long long y, mo, d, h = 0, mi = 0, sec = 0, secs;

    if (!(len == 10 || (len == 20 && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == 'Z'))
        || s[4] != '-' || s[7] != '-') {
        lua_pushnil(L);
        lua_pushliteral(L, "clientcert.time_parse: not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)");
        return 2;
    }
    y = calendar_digits(s, 4);
    mo = calendar_digits(s + 5, 2);
    d = calendar_digits(s + 8, 2);
    if (len == 20) {
        h = calendar_digits(s + 11, 2);
        mi = calendar_digits(s + 14, 2);
        sec = calendar_digits(s + 17, 2);
    }
    if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "clientcert.time_parse: not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)");
        return 2;
    }
    if (mo < 1 || mo > 12) {
        lua_pushnil(L);
        lua_pushfstring(L, "clientcert.time_parse: there is no month %d", (int)mo);
        return 2;
    }
    if (d < 1 || d > calendar_days_in_month(y, (int)mo)) {
        char msg[64];
        snprintf(msg, sizeof(msg), "clientcert.time_parse: %04d-%02d has no day %d", (int)y, (int)mo, (int)d);
        lua_pushnil(L);
        lua_pushstring(L, msg);
        return 2;
    }
    if (h > 23 || mi > 59 || sec > 59) {
        lua_pushnil(L);
        lua_pushliteral(L, "clientcert.time_parse: the time of day must be 00:00:00 .. 23:59:59");
        return 2;
    }
    secs = cc_days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + sec;
    if (secs < 0 || secs > CC_MAX_TIME) {
        lua_pushnil(L);
        lua_pushliteral(L, "clientcert.time_parse: not within 1970-01-01 .. 9999-12-31");
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)secs);
    return 1;
}

/* Adds time_format, time_parse and MAX_TIME to the module table at -1. */
int calendar_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "time_format", calendar_time_format },
        { "time_parse", calendar_time_parse },
        { NULL, NULL },
    };
    luaL_setfuncs(L, fns, 0);
    lua_pushinteger(L, (lua_Integer)CC_MAX_TIME);     /* exact in LuaJIT's doubles */
    lua_setfield(L, -2, "MAX_TIME");
    return 0;
}
