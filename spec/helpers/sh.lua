-- The specs' one shell-quoting helper: every command a spec or helper builds
-- quotes its words with it.
local M = {}

--- s = sh.quote(v): tostring(v) as one POSIX shell word in single quotes
-- (a ' inside becomes '\'').
function M.quote(v) return "'" .. tostring(v):gsub("'", "'\\''") .. "'" end

return M
