-- Neovim's built-in LSP client against `flashc lsp` on an example project (run by nvim.sh).
-- Works from Neovim 0.7 (Debian bookworm): vim.lsp.start_client + buf_attach_client, which
-- is what vim.lsp.start (0.8+) and lspconfig do underneath.
local flashc = os.getenv("FLASHC")
local file = vim.api.nvim_buf_get_name(0)
local dir = vim.fn.fnamemodify(file, ":h")
local published = 0
local failures = {}

local function fail(message)
  table.insert(failures, message)
end

local default = vim.lsp.handlers["textDocument/publishDiagnostics"]
local client_id = vim.lsp.start_client({
  name = "flashc",
  cmd = { flashc, "lsp" },
  root_dir = dir,
  handlers = {
    ["textDocument/publishDiagnostics"] = function(err, result, ctx, config)
      published = published + 1
      default(err, result, ctx, config)
    end,
  },
})
if not client_id then
  fail("flashc lsp did not start")
else
  vim.lsp.buf_attach_client(0, client_id)
end

local function wait_for(count, what)
  if not vim.wait(30000, function() return published >= count end, 20) then
    fail("no diagnostics published " .. what)
  end
end

local function lsp_code(d)
  return d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
end

-- 1. The example as it is: published, and clean.
wait_for(1, "on open")
local found = vim.diagnostic.get(0)
if #found ~= 0 then
  fail("expected no diagnostics on the example, got " .. vim.inspect(found))
end

-- 2. An edit in the buffer (not saved): `workers` misspelled on its line.
local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
local target
for i, line in ipairs(lines) do
  if line:match("^%s+workers:") and not target then
    target = i
  end
end
if not target then
  fail("no `workers:` line in " .. file)
else
  local line = lines[target]
  local replaced = line:gsub("workers:", "worker:", 1)
  vim.api.nvim_buf_set_lines(0, target - 1, target, false, { replaced })
  wait_for(2, "after the edit")
  found = vim.diagnostic.get(0)
  if #found ~= 1 then
    fail("expected one diagnostic after the edit, got " .. vim.inspect(found))
  else
    local d = found[1]
    local indent = #line:match("^(%s*)")
    if lsp_code(d) ~= "FL0101" then fail("code " .. tostring(lsp_code(d))) end
    if d.lnum ~= target - 1 then fail("line " .. d.lnum .. ", expected " .. (target - 1)) end
    if d.col ~= indent then fail("column " .. d.col .. ", expected " .. indent) end
    if d.severity ~= vim.diagnostic.severity.ERROR then fail("severity " .. tostring(d.severity)) end
    if not d.message:find("did you mean `workers`?", 1, true) then fail("message " .. d.message) end
    print(string.format("nvim received %s at %d:%d: %s", lsp_code(d), d.lnum + 1, d.col + 1, d.message:gsub("\n", " ")))
  end

  -- 3. Undo the edit: clean again.
  vim.api.nvim_buf_set_lines(0, target - 1, target, false, { line })
  wait_for(3, "after undoing the edit")
  found = vim.diagnostic.get(0)
  if #found ~= 0 then fail("expected no diagnostics after undo, got " .. vim.inspect(found)) end
end

if client_id then
  vim.lsp.stop_client(client_id)
end
if #failures > 0 then
  io.stderr:write("FAIL\n" .. table.concat(failures, "\n") .. "\n")
  vim.cmd("cquit 1")
else
  print("ok: Neovim " .. tostring(vim.version().major) .. "." .. tostring(vim.version().minor) .. " got flashc's diagnostics")
  vim.cmd("qall!")
end
