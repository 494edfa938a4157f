/* dir.c: one directory's entries, lstat-based and bounded (core.list_dir), for
 * the CLI's walks over certificate directories (audit-store --roots, scan).
 *
 *   list, err = core.list_dir(path[, limit[, where]])  -- one directory's entries (lstat)
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "clientcert.h"

#define DIR_MT "clientcert.dir"

typedef struct { DIR *dir; } dir_box;            /* owns dir while dir != NULL */

static int dir_gc(lua_State *L)
{
    dir_box *box = (dir_box *)luaL_checkudata(L, 1, DIR_MT);
    if (box->dir != NULL) {
        closedir(box->dir);
        box->dir = NULL;
    }
    return 0;
}

/* "file", "dir", "link" or "other" for a file type. */
static const char *dir_type_name(mode_t m)
{
    if (S_ISREG(m))
        return "file";
    if (S_ISDIR(m))
        return "dir";
    if (S_ISLNK(m))
        return "link";
    return "other";
}

/* Pushes "dev:ino", the identity of the file st describes. */
static void dir_push_id(lua_State *L, const struct stat *st)
{
    char id[48];
    snprintf(id, sizeof(id), "%llu:%llu", (unsigned long long)st->st_dev, (unsigned long long)st->st_ino);
    lua_pushstring(L, id);
}

/* list_dir(path[, limit[, where]]): the entries of the directory at path, "."
 * and ".." left out, in the order the system gives them, as a list of
 *   { name = <entry name>, type = "file"|"dir"|"link"|"other" (lstat: a symbolic
 *     link is "link", never followed for type), target = "file"|"dir"|"other"
 *     (links only: what the link resolves to; absent when it dangles),
 *     id = "dev:ino" (the entry itself, or for a link what it resolves to;
 *     absent when that cannot be stat'ed) }.
 * At most limit entries (1 .. 2^24, default 1048576): a larger directory gives
 * nil, "clientcert.<where>: <path>: more than <limit> entries"; any other failure
 * nil, "clientcert.<where>: <path>: <strerror>", and path naming something that is
 * not a directory nil, "...: not a directory", "not_a_directory". Nothing is opened but
 * the directory itself: no file is read, no link is followed beyond a stat.
 * The recursion (and with it loop avoidance) is the caller's: with lstat types
 * a walker that descends only into "dir" entries never follows a link. */
static int dir_list(lua_State *L)
{
    size_t plen;
    const char *path = cc_checkbytes(L, 1, &plen);
    lua_Integer limit = luaL_optinteger(L, 2, 1048576);
    const char *where = luaL_optstring(L, 3, "list_dir");
    dir_box *box;
    struct dirent *ent;
    lua_Integer n = 0;
    int dfd, err;

    luaL_argcheck(L, limit >= 1 && limit <= 16777216, 2, "limit must be 1 .. 2^24");
    if (strlen(path) != plen) {
        lua_pushnil(L);
        lua_pushfstring(L, "clientcert.%s: path contains a NUL byte", where);
        return 2;
    }
    box = (dir_box *)cc_newuserdata(L, sizeof(*box));  /* box */
    box->dir = NULL;
    luaL_setmetatable(L, DIR_MT);
    box->dir = opendir(path);
    if (box->dir == NULL) {
        err = errno;
        lua_pushnil(L);
        if (err == ENOTDIR) {
            lua_pushfstring(L, "clientcert.%s: %s: not a directory", where, path);
            lua_pushliteral(L, "not_a_directory");
            return 3;
        }
        lua_pushfstring(L, "clientcert.%s: %s: %s", where, path, strerror(err));
        return 2;
    }
    dfd = dirfd(box->dir);
    lua_newtable(L);                                         /* box, list */
    for (;;) {
        struct stat st, target;
        errno = 0;
        ent = readdir(box->dir);                             /* borrowed from box->dir */
        if (ent == NULL) {
            if (errno != 0) {
                err = errno;
                closedir(box->dir);
                box->dir = NULL;
                lua_pushnil(L);
                lua_pushfstring(L, "clientcert.%s: %s: %s", where, path, strerror(err));
                return 2;
            }
            break;
        }
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        if (n >= limit) {
            closedir(box->dir);
            box->dir = NULL;
            lua_pushnil(L);
            lua_pushfstring(L, "clientcert.%s: %s: more than %d entries", where, path, (int)limit);
            return 2;
        }
        lua_createtable(L, 0, 4);                            /* box, list, e */
        lua_pushstring(L, ent->d_name);
        lua_setfield(L, -2, "name");
        if (fstatat(dfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            lua_pushliteral(L, "other");                     /* vanished meanwhile, or no access */
            lua_setfield(L, -2, "type");
        } else {
            lua_pushstring(L, dir_type_name(st.st_mode));
            lua_setfield(L, -2, "type");
            if (S_ISLNK(st.st_mode)) {
                if (fstatat(dfd, ent->d_name, &target, 0) == 0) {
                    const char *t = dir_type_name(target.st_mode);
                    lua_pushstring(L, t);
                    lua_setfield(L, -2, "target");
                    dir_push_id(L, &target);
                    lua_setfield(L, -2, "id");
                }
            } else {
                dir_push_id(L, &st);
                lua_setfield(L, -2, "id");
            }
        }
        lua_rawseti(L, -2, (int)++n);                        /* box, list */
    }
    closedir(box->dir);
    box->dir = NULL;
    return 1;
}

/* Registers the directory box's metatable; adds list_dir to the module table at -1. */
int dir_open(lua_State *L)
{
    static const luaL_Reg meta[] = { { "__gc", dir_gc }, { NULL, NULL } };
    cc_new_class(L, DIR_MT, meta, NULL);                  /* M */
    lua_pushcfunction(L, dir_list);
    lua_setfield(L, -2, "list_dir");
    return 0;
}
