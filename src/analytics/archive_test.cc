// Archiving and restoring raw events: over MemoryStore and SqliteStore with
// real Rollups as the sink; the manifest, crash points between the steps,
// damaged files, and import of files of this database and of others.
#include "analytics/archive.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "analytics/archive_io.h"
#include "analytics/event_file.h"
#include "analytics/event_import.h"
#include "analytics/export_writer.h"
#include "analytics/rollups.h"
#include "gtest/gtest.h"
#include "store/memory_store.h"
#include "store/sqlite/sqlite_store.h"

namespace tally {
namespace {

namespace fs = std::filesystem;

constexpr Micros kDay = kMicrosPerDay;
constexpr Micros kNow = 1'780'000'000'000'000;  // 2026-05-28

EventRecord MakeEvent(int i, Micros time) {
  EventRecord r;
  r.event.id = "e" + std::to_string(i);
  r.event.subject = i % 3 == 0 ? "alice" : "bob \"quoted\"";
  r.event.type = i % 2 == 0 ? "api_call" : "llm";
  r.event.time = time;
  r.event.data = {{"chars", 100 + i}, {"tokens", i}};
  if (i % 4 == 0) {
    r.event.context.endpoint = "/v1/fix";
    r.event.context.processing_ms = i;
    r.event.context.error_code = i % 8 == 0 ? "E_TIMEOUT" : "";
  }
  r.org = i % 5 == 0 ? "acme" : "";
  r.received = time + 1000;
  r.fingerprint = 0x9000000000000000ull + static_cast<uint64_t>(i);
  r.origin = EventRecord::Origin::kTrack;
  r.effects = {Effect{Scope::kSubject, "chars", time - time % kDay, time - time % kDay + 30 * kDay, 100 + i, 0},
               Effect{Scope::kSubject, "requests", time - time % kDay, time - time % kDay + 30 * kDay, 1, 0}};
  return r;
}

// Every stored event as archive lines: equal strings mean equal events.
std::string Dump(Store& store) {
  std::string out;
  absl::Status s = store.ScanEvents(EventQuery{}, [&](uint64_t seq, const EventRecord& r) {
    AppendArchiveLine(seq, r, out);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

uint64_t CountEvents(Store& store) {
  uint64_t n = 0;
  EXPECT_TRUE(store.ScanEvents(EventQuery{}, [&](uint64_t, const EventRecord&) { return ++n, true; }).ok());
  return n;
}

std::vector<Usage> Series(const Rollups& rollups) {
  std::vector<Micros> bounds;
  for (Micros t = kNow - 120 * kDay; t <= kNow + kDay; t += kDay) bounds.push_back(t - t % kMicrosPerHour);
  std::vector<Usage> out;
  for (const Bucket& b : rollups.SystemSeries(bounds)) out.push_back(b.usage);
  return out;
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TALLY_TEST_TMPDIR");
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(base != nullptr && *base != '\0' ? base : "/tmp") /
           ("tally_archive_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // 100 events: the even ones 100 days old, the odd ones 1 day old, so that
  // archived and kept seqs interleave; a ledger record in between.
  void Fill(Store& store, int n = 100, int first = 0) {
    std::vector<LogRecord> records;
    for (int i = first; i < first + n; ++i) {
      records.push_back(MakeEvent(i, i % 2 == 0 ? kNow - 100 * kDay + i * 1000 : kNow - kDay + i));
      if (i == first + n / 2) {
        LedgerRecord grant;
        grant.kind = LedgerRecord::Kind::kGrant;
        grant.time = kNow;
        grant.subject = "alice";
        records.push_back(grant);
      }
    }
    absl::StatusOr<uint64_t> ticket = store.Append(std::move(records));
    ASSERT_TRUE(ticket.ok()) << ticket.status();
    ASSERT_TRUE(store.WaitDurable(*ticket).ok());
  }

  ArchiveOptions Options() const {
    ArchiveOptions o;
    o.dir = (dir_ / "archive").string();
    o.cutoff = kNow - 40 * kDay;
    o.now = kNow;
    return o;
  }

  std::string ArchivePath(const ArchiveEntry& e) const { return (dir_ / "archive" / e.file).string(); }

  fs::path dir_;
  Rollups rollups_{DefaultMeters()};
};

TEST_F(ArchiveTest, ArchivesOldEventsKeepsRollupsAndRestoresExactly) {
  MemoryStore store(&rollups_);
  Fill(store);
  const std::string before = Dump(store);
  const std::vector<Usage> series = Series(rollups_);

  absl::StatusOr<ArchiveResult> result = ArchiveEvents(store, Options());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->archived, 50u);
  EXPECT_EQ(result->deleted, 50u);
  ASSERT_EQ(result->files.size(), 1u);
  EXPECT_EQ(CountEvents(store), 50u);
  EventQuery old;
  old.to = Options().cutoff;
  uint64_t old_left = 0;
  ASSERT_TRUE(store.ScanEvents(old, [&](uint64_t, const EventRecord&) { return ++old_left, true; }).ok());
  EXPECT_EQ(old_left, 0u);
  EXPECT_EQ(Series(rollups_), series);  // rollups stay

  // The manifest describes the file exactly.
  absl::StatusOr<Manifest> manifest = LoadManifest(Options().dir);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  ASSERT_EQ(manifest->files.size(), 1u);
  const ArchiveEntry& e = manifest->files[0];
  EXPECT_EQ(e, result->files[0]);
  EXPECT_EQ(e.file, "events-1-100.ndjson.zst");  // events 0..98 even: seqs 1..100 minus the grant's
  EXPECT_EQ(e.first_seq, 1u);
  EXPECT_EQ(e.last_seq, 100u);
  EXPECT_EQ(e.rows, 50u);
  EXPECT_EQ(e.min_time, kNow - 100 * kDay);
  EXPECT_EQ(e.max_time, kNow - 100 * kDay + 98 * 1000);
  EXPECT_EQ(e.cutoff, Options().cutoff);
  EXPECT_EQ(e.upto_seq, 101u);
  EXPECT_EQ(e.bytes, fs::file_size(ArchivePath(e)));
  absl::StatusOr<std::string> sha = Sha256File(ArchivePath(e));
  ASSERT_TRUE(sha.ok());
  EXPECT_EQ(e.sha256, *sha);

  // Restore: byte-identical; twice: a no-op; rollups untouched.
  absl::StatusOr<RestoreResult> restored = RestoreArchive(store, ArchivePath(e));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_TRUE(restored->verified);
  EXPECT_EQ(restored->restored, 50u);
  EXPECT_EQ(Dump(store), before);
  EXPECT_EQ(Series(rollups_), series);
  restored = RestoreArchive(store, ArchivePath(e));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->restored, 0u);
  EXPECT_EQ(restored->skipped, 50u);
  EXPECT_EQ(Dump(store), before);

  // The next run archives nothing twice; it deletes the restored ones again.
  result = ArchiveEvents(store, Options());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->archived, 0u);
  EXPECT_EQ(result->already_archived, 50u);
  EXPECT_TRUE(result->files.empty());
  EXPECT_EQ(CountEvents(store), 50u);
}

TEST_F(ArchiveTest, CrashBeforeDeleteNeverArchivesTwice) {
  MemoryStore store(&rollups_);
  Fill(store);
  ArchiveOptions options = Options();
  options.delete_events = false;  // "crash" after the manifest, before the delete
  absl::StatusOr<ArchiveResult> first = ArchiveEvents(store, options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->archived, 50u);
  EXPECT_EQ(CountEvents(store), 100u);

  // New events arrive, some old (late) between them; the cutoff moves on.
  Fill(store, 10, 1000);
  absl::StatusOr<ArchiveResult> second = ArchiveEvents(store, Options());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->already_archived, 50u);
  EXPECT_EQ(second->archived, 5u);  // only the new old ones
  EXPECT_EQ(second->deleted, 55u);
  ASSERT_EQ(second->files.size(), 1u);
  EXPECT_EQ(second->files[0].first_seq, 102u);

  absl::StatusOr<Manifest> manifest = LoadManifest(Options().dir);
  ASSERT_TRUE(manifest.ok());
  ASSERT_EQ(manifest->files.size(), 2u);
  uint64_t rows = 0;
  for (const ArchiveEntry& e : manifest->files) rows += e.rows;
  EXPECT_EQ(rows, 55u);  // each archived event once
  EXPECT_EQ(CountEvents(store), 55u);
}

TEST_F(ArchiveTest, LateEventsBetweenArchivedSeqsAreArchivedLater) {
  MemoryStore store(&rollups_);
  Fill(store);
  ASSERT_TRUE(ArchiveEvents(store, Options()).ok());
  // 30 days later, the events that were 1 day old are 31 days old: with a
  // cutoff of 30 days they go too, although their seqs lie below the first
  // file's last seq.
  ArchiveOptions later = Options();
  later.now = kNow + 30 * kDay;
  later.cutoff = kNow;
  absl::StatusOr<ArchiveResult> result = ArchiveEvents(store, later);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->archived, 50u);
  EXPECT_EQ(CountEvents(store), 0u);
}

TEST_F(ArchiveTest, SplitsFilesAndDryRunWritesNothing) {
  MemoryStore store(&rollups_);
  Fill(store);
  ArchiveOptions options = Options();
  options.dry_run = true;
  absl::StatusOr<ArchiveResult> dry = ArchiveEvents(store, options);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->archived, 50u);
  EXPECT_FALSE(fs::exists(options.dir));
  EXPECT_EQ(CountEvents(store), 100u);

  options.dry_run = false;
  options.max_rows_per_file = 20;
  absl::StatusOr<ArchiveResult> result = ArchiveEvents(store, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->files.size(), 3u);
  EXPECT_EQ(result->files[0].rows + result->files[1].rows + result->files[2].rows, 50u);
  EXPECT_EQ(result->files[1].after_seq, result->files[0].upto_seq);
  EXPECT_EQ(result->files[0].upto_seq, result->files[0].last_seq);
}

TEST_F(ArchiveTest, DamagedFilesRestoreNothing) {
  MemoryStore store(&rollups_);
  Fill(store);
  absl::StatusOr<ArchiveResult> result = ArchiveEvents(store, Options());
  ASSERT_TRUE(result.ok()) << result.status();
  const std::string path = ArchivePath(result->files[0]);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    bytes = s.str();
  }
  const uint64_t stored = CountEvents(store);

  // Listed in the manifest, checksum differs.
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x40;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << flipped;
  absl::StatusOr<RestoreResult> r = RestoreArchive(store, path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("differs from the manifest"), std::string::npos) << r.status();

  // Not listed: truncated, and corrupt.
  const std::string loose = (dir_ / "loose.ndjson.zst").string();
  std::ofstream(loose, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 7);
  r = RestoreArchive(store, loose);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("truncated zstd file"), std::string::npos) << r.status();
  std::ofstream(loose, std::ios::binary | std::ios::trunc) << flipped;
  r = RestoreArchive(store, loose);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nothing restored"), std::string::npos) << r.status();
  absl::StatusOr<ImportResult> imported = ImportEventFile(store, loose, ImportOptions{.archive_dir = Options().dir, .now = kNow});
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.status().message().find("nothing imported"), std::string::npos) << imported.status();
  EXPECT_EQ(CountEvents(store), stored);

  // A bad line in the middle: file:line, nothing imported.
  const std::string bad = (dir_ / "bad.ndjson").string();
  std::string text;
  AppendArchiveLine(1, MakeEvent(0, kNow - 100 * kDay), text);
  text += "{\"seq\":3,\"id\":\"x\"\n";
  std::ofstream(bad, std::ios::trunc) << text;
  imported = ImportEventFile(store, bad, ImportOptions{.archive_dir = Options().dir, .now = kNow});
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.status().message().find(bad + ":2: "), std::string::npos) << imported.status();
  EXPECT_EQ(CountEvents(store), stored);
}

TEST_F(ArchiveTest, ImportChoosesRestoreForOurFilesAndAppendForOthers) {
  MemoryStore store(&rollups_);
  Fill(store);
  absl::StatusOr<ArchiveResult> result = ArchiveEvents(store, Options());
  ASSERT_TRUE(result.ok()) << result.status();
  const std::string archive = ArchivePath(result->files[0]);
  const std::vector<Usage> series = Series(rollups_);

  ImportOptions options{.archive_dir = Options().dir, .now = kNow};
  absl::StatusOr<ImportResult> imported = ImportEventFile(store, archive, options);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->mode, ImportMode::kRestore);
  EXPECT_EQ(imported->imported, 50u);
  imported = ImportEventFile(store, archive, options);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->imported, 0u);
  EXPECT_EQ(Series(rollups_), series);

  // An export of this database (CSV, no effects): every row is stored: restore, no-op.
  const std::string csv = (dir_ / "ours.csv").string();
  {
    ExportWriter writer(ExportFormat::kCsv, ExportKind::kEvents);
    std::string out;
    writer.Begin(out);
    ASSERT_TRUE(store.ScanEvents(EventQuery{}, [&](uint64_t seq, const EventRecord& r) {
                       writer.AddEvent(seq, r, out);
                       return true;
                     }).ok());
    writer.End(out);
    std::ofstream(csv, std::ios::binary | std::ios::trunc) << out;
  }
  imported = ImportEventFile(store, csv, options);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->mode, ImportMode::kRestore);
  EXPECT_EQ(imported->rows, 100u);
  EXPECT_EQ(imported->imported, 0u);

  // Events from elsewhere (a JSON array, no seqs, one id twice): appended.
  const std::string json = (dir_ / "theirs.json").string();
  {
    ExportWriter writer(ExportFormat::kJson, ExportKind::kEvents);
    std::string out;
    writer.Begin(out);
    for (int i : {7000, 7001, 7000}) writer.AddEvent(0, MakeEvent(i, kNow - 2 * kDay), out);
    writer.End(out);
    std::ofstream(json, std::ios::binary | std::ios::trunc) << out;
  }
  const uint64_t last = store.LastSeq();
  imported = ImportEventFile(store, json, options);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->mode, ImportMode::kAppend);
  EXPECT_EQ(imported->imported, 2u);
  EXPECT_EQ(imported->skipped, 1u);
  EXPECT_EQ(store.LastSeq(), last + 2);
  EventQuery fresh;
  fresh.after_seq = last;
  ASSERT_TRUE(store.ScanEvents(fresh, [&](uint64_t, const EventRecord& r) {
                     EXPECT_TRUE(r.effects.empty());  // no quota counter moves
                     EXPECT_NE(r.fingerprint, 0u);
                     return true;
                   }).ok());
  EXPECT_NE(Series(rollups_), series);  // folded into the rollups
}

TEST_F(ArchiveTest, SqliteStoreRoundTrip) {
  const std::string data = (dir_ / "data").string();
  std::string before;
  std::vector<Usage> series;
  ArchiveEntry entry;
  {
    SqliteStoreOptions options;
    options.dir = data;
    options.rollups = &rollups_;
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    Fill(**store, 300);
    before = Dump(**store);
    series = Series(rollups_);
    absl::StatusOr<ArchiveResult> result = ArchiveEvents(**store, Options());
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->archived, 150u);
    EXPECT_EQ(result->deleted, 150u);
    entry = result->files.at(0);
    EXPECT_EQ(CountEvents(**store), 150u);
  }
  // Reopened: the rollups still count the archived events.
  Rollups reopened(DefaultMeters());
  SqliteStoreOptions options;
  options.dir = data;
  options.rollups = &reopened;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Series(reopened), series);
  absl::StatusOr<RestoreResult> restored = RestoreArchive(**store, ArchivePath(entry));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->restored, 150u);
  EXPECT_EQ(Dump(**store), before);
  EXPECT_EQ(Series(reopened), series);
}

TEST(ArchiveManifestTest, CoverageTakesTheLargestCutoffPerSeq) {
  Manifest m;
  m.files.push_back(ArchiveEntry{.file = "a", .cutoff = 100, .after_seq = 0, .upto_seq = 10});
  m.files.push_back(ArchiveEntry{.file = "b", .cutoff = 200, .after_seq = 5, .upto_seq = 20});
  const ArchiveCoverage c(m);
  EXPECT_FALSE(c.Covers(0, 0));
  EXPECT_TRUE(c.Covers(1, 99));
  EXPECT_FALSE(c.Covers(1, 100));
  EXPECT_TRUE(c.Covers(6, 150));
  EXPECT_TRUE(c.Covers(20, 199));
  EXPECT_FALSE(c.Covers(21, 0));
  absl::StatusOr<Manifest> back = ManifestFromJson(ManifestToJson(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->files, m.files);
  EXPECT_FALSE(ManifestFromJson("{\"version\":1,\"files\":[{\"file\":\"../x\"}]}").ok());
  EXPECT_FALSE(ManifestFromJson("[]").ok());
}

TEST(ArchiveLineTest, RoundTripsExactlyAndReadsExports) {
  EventRecord r = MakeEvent(8, kNow);
  r.origin = EventRecord::Origin::kCommit;
  r.reservation_id = "res-1";
  std::string line;
  AppendArchiveLine(42, r, line);
  absl::StatusOr<EventRow> row = ParseEventLine(line);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_TRUE(row->exact);
  EXPECT_EQ(row->seq, 42u);
  EXPECT_EQ(row->record, r);
  std::string exported;
  AppendEventJson(42, r, exported);
  row = ParseEventLine(exported);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_FALSE(row->exact);
  EXPECT_TRUE(row->record.effects.empty());
  EXPECT_FALSE(ParseEventLine("{\"seq\":1,\"fingerprint\":\"x\",\"effects\":\"\"}").ok());
}

}  // namespace
}  // namespace tally
