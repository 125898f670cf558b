// tally keys create | list | revoke: API keys, on a data dir that no server
// holds open (a running server takes them through POST /api/admin/keys).
#include <cstdio>
#include <string>

#include "cli/command.h"
#include "cli/json_out.h"
#include "core/api_key.h"
#include "core/clock.h"
#include "server/auth/api_keys.h"

namespace tally::cli {
namespace {

Actor CliActor(const std::string& reason) {
  const char* user = std::getenv("USER");
  return Actor{std::string("cli:") + (user != nullptr ? user : "unknown"), reason, "local"};
}

int RunCreate(const ParsedFlags& flags) {
  const std::string role_name = flags.Get("role").value_or("");
  std::optional<Role> role = ParseRole(role_name);
  if (!role || *role == Role::kUser) {
    Fail("--role must be admin or service, not \"" + role_name + "\"");
    return kExitUsage;
  }
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt); rc != kExitOk) return rc;
  SystemClock clock;
  NewKey key = GenerateApiKey(*role, flags.Get("name").value_or(""), clock.Now());
  if (absl::Status s = rt.engine->PutApiKey(key.key, CliActor(flags.Get("reason").value_or("")), "key.create");
      !s.ok()) {
    return FailStatus(s);
  }
  std::printf("%s\n", key.secret.c_str());
  std::fprintf(stderr, "tally: created %s key %s; it is shown only now (tally keeps only its hash)\n",
               role_name.c_str(), key.key.id.c_str());
  return kExitOk;
}

int RunList(const ParsedFlags& flags) {
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt, /*require_existing=*/true); rc != kExitOk) return rc;
  std::printf("%-13s %-8s %-17s %-28s %-28s %s\n", "ID", "ROLE", "PREFIX", "CREATED", "REVOKED", "NAME");
  for (const ApiKey& k : rt.engine->ApiKeys()) {
    std::printf("%-13s %-8s %-17s %-28s %-28s %s\n", k.id.c_str(), std::string(RoleName(k.role)).c_str(),
                k.prefix.c_str(), FormatRfc3339(k.created).c_str(),
                k.revoked == 0 ? "-" : FormatRfc3339(k.revoked).c_str(), k.name.c_str());
  }
  return kExitOk;
}

int RunRevoke(const ParsedFlags& flags) {
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt, /*require_existing=*/true); rc != kExitOk) return rc;
  const std::string& id = flags.positionals[0];
  SystemClock clock;
  for (ApiKey k : rt.engine->ApiKeys()) {
    if (k.id != id) continue;
    if (k.revoked != 0) return Fail("key " + id + " is already revoked");
    k.revoked = clock.Now();
    if (absl::Status s = rt.engine->PutApiKey(k, CliActor(flags.Get("reason").value_or("")), "key.revoke"); !s.ok()) {
      return FailStatus(s);
    }
    std::fprintf(stderr, "tally: revoked key %s\n", id.c_str());
    return kExitOk;
  }
  return Fail("no key " + id + " (tally keys list shows them)");
}

}  // namespace

std::vector<Command> KeysCommands() {
  std::vector<Command> out;
  CommandSpec create;
  create.name = "keys create";
  create.summary = "Create an API key and print it once (stored hashed). Stop `tally serve` first, or use POST /api/admin/keys.";
  create.flags = {{"role", "ROLE", "", "admin or service; required"},
                  {"name", "NAME", "", "what the key is for"},
                  {"reason", "TEXT", "", "why (kept in the audit trail)"}};
  for (FlagSpec& f : StoreFlags()) create.flags.push_back(std::move(f));
  out.push_back(Command{std::move(create), RunCreate});
  CommandSpec list;
  list.name = "keys list";
  list.summary = "List API keys (never their secrets).";
  for (FlagSpec& f : StoreFlags()) list.flags.push_back(std::move(f));
  out.push_back(Command{std::move(list), RunList});
  CommandSpec revoke;
  revoke.name = "keys revoke";
  revoke.positionals = "KEY_ID";
  revoke.min_positionals = revoke.max_positionals = 1;
  revoke.summary = "Revoke an API key by id (key_...).";
  revoke.flags = {{"reason", "TEXT", "", "why (kept in the audit trail)"}};
  for (FlagSpec& f : StoreFlags()) revoke.flags.push_back(std::move(f));
  out.push_back(Command{std::move(revoke), RunRevoke});
  return out;
}

}  // namespace tally::cli
