// Runs an Argo CD resource health check (Lua) as Argo CD does: the live object is the global `obj`, a Lua
// table converted from its JSON (objects and arrays become tables, arrays indexed from 1, null is nil), and
// the script returns a table with `status` and `message`. Argo CD embeds gopher-lua (Lua 5.1); fengari is Lua
// 5.3, so health checks tested here must keep to what both accept (no goto, integer division or bit ops).
import { lauxlib, lua, lualib, to_luastring } from 'fengari';
import type { LuaState } from 'fengari';

function push(L: LuaState, value: unknown): void {
  if (value === null || value === undefined) lua.lua_pushnil(L);
  else if (typeof value === 'boolean') lua.lua_pushboolean(L, value);
  else if (typeof value === 'number') lua.lua_pushnumber(L, value);
  else if (typeof value === 'string') lua.lua_pushstring(L, to_luastring(value));
  else if (Array.isArray(value)) {
    lua.lua_newtable(L);
    value.forEach((item, index) => {
      push(L, item);
      lua.lua_rawseti(L, -2, index + 1);
    });
  } else if (typeof value === 'object') {
    lua.lua_newtable(L);
    for (const [key, item] of Object.entries(value)) {
      if (item === null || item === undefined) continue;
      push(L, item);
      lua.lua_setfield(L, -2, to_luastring(key));
    }
  } else throw new Error(`cannot pass ${typeof value} to Lua`);
}

/** Reads the string fields of the table on top of the stack. */
function stringFields(L: LuaState): Record<string, string> {
  const fields: Record<string, string> = {};
  lua.lua_pushnil(L);
  while (lua.lua_next(L, -2)) {
    lua.lua_pushvalue(L, -2);
    const key = lua.lua_tojsstring(L, -1);
    if (lua.lua_type(L, -2) === lua.LUA_TSTRING) fields[key] = lua.lua_tojsstring(L, -2);
    lua.lua_pop(L, 2);
  }
  return fields;
}

export interface HealthStatus {
  status: string;
  message: string;
}

export function runHealthCheck(script: string, obj: unknown): HealthStatus {
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  push(L, obj);
  lua.lua_setglobal(L, to_luastring('obj'));
  if (lauxlib.luaL_loadstring(L, to_luastring(script)) !== lua.LUA_OK) {
    throw new Error(`Lua syntax error: ${lua.lua_tojsstring(L, -1)}`);
  }
  if (lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK) throw new Error(`Lua error: ${lua.lua_tojsstring(L, -1)}`);
  if (lua.lua_type(L, -1) !== lua.LUA_TTABLE) throw new Error('the health check did not return a table');
  const { status, message } = stringFields(L);
  if (status === undefined) throw new Error('the health check returned no status');
  return { status, message: message ?? '' };
}
