// Checkpoints: a snapshot of every window and open reservation, written
// through the store's log so that recovery replays only what follows it.
//
// Blob format (version 2), all integers as LEB128 varints, signed ones
// zigzag-encoded, strings as length + bytes, and at the end the 8-byte
// little-endian StableHash (XXH64) of everything before it:
//   "TCK3" meters:[name] accounts:[scope id windows:[meter start end used
//   reserved granted latest_time flags uniques:[hash]]] reservations:[id subject org
//   type expires_at holds:[scope meter start end amount]]
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "core/varint.h"
#include "engine/engine_internal.h"

namespace tally {
namespace {

constexpr std::string_view kMagic = "TCK3";
// Window flags (version 3): bit 0 = recalendar.
constexpr uint64_t kFlagRecalendar = 1;
constexpr size_t kChecksumBytes = 8;

void AppendChecksum(std::string& blob) {
  const uint64_t h = StableHash(blob);
  for (int i = 0; i < 8; ++i) blob.push_back(static_cast<char>(h >> (8 * i)));
}

}  // namespace

// Whether the last 8 bytes are the hash of the rest.
bool CheckpointBlobIntact(std::string_view blob) {
  if (blob.substr(0, 4) == "TCK1") return true;
  if (blob.size() < kChecksumBytes) return false;
  const std::string_view body = blob.substr(0, blob.size() - kChecksumBytes);
  uint64_t stored = 0;
  for (int i = 0; i < 8; ++i) {
    stored |= static_cast<uint64_t>(static_cast<uint8_t>(blob[body.size() + i])) << (8 * i);
  }
  return StableHash(body) == stored;
}

namespace {

void WriteWindows(VarintWriter& w, const Account& account) {
  uint64_t used = 0;
  for (const WindowState& ws : account.windows) used += ws.window.start != ws.window.end;
  w.U(static_cast<uint64_t>(account.scope));
  w.Str(account.id);
  w.U(used);
  for (size_t m = 0; m < account.windows.size(); ++m) {
    const WindowState& ws = account.windows[m];
    if (ws.window.start == ws.window.end) continue;
    w.U(m);
    w.S(ws.window.start);
    w.S(ws.window.end);
    w.S(ws.used);
    w.S(ws.reserved);
    w.S(ws.granted);
    w.S(ws.latest_time);
    w.U(ws.recalendar ? kFlagRecalendar : 0);
    w.U(ws.uniques ? ws.uniques->size() : 0);
    if (ws.uniques) {
      for (uint64_t h : *ws.uniques) w.U(h);
    }
  }
}

}  // namespace

std::string Engine::CheckpointBlob() {
  VarintWriter w;
  w.Raw(kMagic);
  w.U(meters_.size());
  for (const Meter& m : meters_) w.Str(m.name);
  uint64_t accounts = 0;
  for (const auto& stripe : stripes_) accounts += stripe->subjects.size() + stripe->orgs.size();
  w.U(accounts);
  for (const auto& stripe : stripes_) {
    for (const auto& [id, e] : stripe->subjects) WriteWindows(w, e->account);
    for (const auto& [id, e] : stripe->orgs) WriteWindows(w, e->account);
  }
  uint64_t open = 0;
  for (const auto& [id, r] : reservations_) open += r->state == Reservation::State::kOpen;
  w.U(open);
  for (const auto& [id, r] : reservations_) {
    if (r->state != Reservation::State::kOpen) continue;
    w.Str(r->id);
    w.Str(r->subject);
    w.Str(r->org);
    w.Str(r->type);
    w.S(r->expires_at);
    w.U(r->holds.size());
    for (const Effect& h : r->holds) {
      w.U(static_cast<uint64_t>(h.scope));
      w.Str(h.meter);
      w.S(h.window_start);
      w.S(h.window_end);
      w.S(h.amount);
    }
  }
  std::string blob = w.Take();
  AppendChecksum(blob);
  return blob;
}

absl::Status Engine::LoadCheckpointBlob(const std::string& blob) {
  auto corrupt = [](const std::string& what) {
    return absl::DataLossError(absl::StrCat("checkpoint is corrupt (", what,
                                            "); restore the data directory from a backup"));
  };
  // Version 1 (no checksum) was written by development builds only.
  // Versions 1 (no checksum) and 2 (no window flags) were written by
  // development builds; they are still read.
  const int version = blob.compare(0, 4, "TCK1") == 0   ? 1
                      : blob.compare(0, 4, "TCK2") == 0 ? 2
                                                        : 3;
  if (version > 1 && !CheckpointBlobIntact(blob)) return corrupt("checksum mismatch");
  VarintReader r(version == 1 ? std::string_view(blob)
                            : std::string_view(blob).substr(0, blob.size() - kChecksumBytes));
  if (!r.Expect(version == 3 ? kMagic : std::string_view(blob).substr(0, 4))) {
    return corrupt("unknown format");
  }
  std::vector<int> meter_map(r.Count());
  for (int& m : meter_map) m = MeterIndexOf(meters_, r.Str());
  const uint64_t accounts = r.Count();
  for (uint64_t a = 0; a < accounts && r.ok(); ++a) {
    const uint64_t scope = r.U();
    const std::string id = r.Str();
    Account* account = nullptr;
    if (scope == static_cast<uint64_t>(Scope::kSubject)) {
      if (FindSubject(id) == nullptr) {
        stripes_[StripeIndex(StableHash(id))]->subjects[id] = NewSubjectEntry(id, 0);
      }
      account = &FindSubject(id)->account;
    } else if (OrgEntry* org = FindOrg(id); org != nullptr) {
      account = &org->account;
    }
    const uint64_t windows = r.Count();
    for (uint64_t i = 0; i < windows && r.ok(); ++i) {
      const uint64_t m = r.U();
      WindowState ws;
      ws.window.start = r.S();
      ws.window.end = r.S();
      ws.used = r.S();
      ws.reserved = r.S();
      ws.granted = r.S();
      ws.latest_time = r.S();
      if (version >= 3) ws.recalendar = (r.U() & kFlagRecalendar) != 0;
      const uint64_t uniques = r.Count();
      if (uniques > 0) ws.uniques = std::make_unique<absl::flat_hash_set<uint64_t>>();
      for (uint64_t u = 0; u < uniques && r.ok(); ++u) ws.uniques->insert(r.U());
      if (m >= meter_map.size()) return corrupt("meter index");
      if (account != nullptr && meter_map[m] >= 0) account->windows[meter_map[m]] = std::move(ws);
    }
  }
  const uint64_t open = r.Count();
  for (uint64_t i = 0; i < open && r.ok(); ++i) {
    auto res = std::make_unique<Reservation>();
    res->id = r.Str();
    res->subject = r.Str();
    res->org = r.Str();
    res->type = r.Str();
    res->expires_at = r.S();
    const uint64_t holds = r.Count();
    for (uint64_t h = 0; h < holds && r.ok(); ++h) {
      Effect e;
      e.scope = static_cast<Scope>(r.U() & 1);
      e.meter = r.Str();
      e.window_start = r.S();
      e.window_end = r.S();
      e.amount = r.S();
      res->holds.push_back(std::move(e));
    }
    reservations_[res->id] = std::move(res);
  }
  if (!r.ok() || !r.AtEnd()) return corrupt("truncated");
  return absl::OkStatus();
}

absl::Status Engine::WriteCheckpoint() {
  absl::StatusOr<uint64_t> ticket;
  {
    StripeLocks locks(this);
    locks.AddAll();
    locks.Lock();
    std::lock_guard<std::mutex> lock(reservations_mu_);
    std::vector<LogRecord> records;
    records.emplace_back(CheckpointRecord{CheckpointBlob()});
    ticket = store_->Append(std::move(records));
    records_since_checkpoint_.store(0, std::memory_order_relaxed);
  }
  if (!ticket.ok()) {
    failed_.store(true);
    return ticket.status();
  }
  absl::Status s = store_->WaitDurable(*ticket);
  if (!s.ok()) failed_.store(true);
  return s;
}

absl::Status Engine::Checkpoint() {
  std::lock_guard<std::mutex> lock(checkpoint_mu_);
  return WriteCheckpoint();
}

void Engine::MaybeCheckpoint() {
  if (records_since_checkpoint_.load(std::memory_order_relaxed) <
      static_cast<uint64_t>(checkpoint_every_)) {
    return;
  }
  std::unique_lock<std::mutex> lock(checkpoint_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (records_since_checkpoint_.load(std::memory_order_relaxed) <
      static_cast<uint64_t>(checkpoint_every_)) {
    return;
  }
  WriteCheckpoint().IgnoreError();  // a failure marks the engine failed
}

}  // namespace tally
