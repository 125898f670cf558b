// The file plumbing of event archives (analytics/archive.h): a zstd writer
// that streams in flat memory and fsyncs, a line reader for plain or
// zstd-compressed text (detected by the zstd magic number, not the name), the
// SHA-256 of a file, and directory fsync / atomic replace.
//
// Every error names the file. Hostile input (a corrupt or truncated frame, a
// line longer than kMaxLineBytes) is an error, never a crash.
//
// Thread-safety: the classes are not thread-safe; use one per thread.
#ifndef TALLY_ANALYTICS_ARCHIVE_IO_H_
#define TALLY_ANALYTICS_ARCHIVE_IO_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tally {

// The longest line a LineReader accepts (an event is a few hundred bytes).
inline constexpr size_t kMaxLineBytes = 16 << 20;

// Streams text into a new zstd-compressed file. Nothing is durable until
// Finish() returns OK; a writer destroyed before that removes its file.
class ZstdFileWriter {
 public:
  // Creates `path` (which must not exist). `level`: zstd level, default 3.
  static absl::StatusOr<std::unique_ptr<ZstdFileWriter>> Create(const std::string& path,
                                                                int level = 3);
  ~ZstdFileWriter();
  ZstdFileWriter(const ZstdFileWriter&) = delete;
  ZstdFileWriter& operator=(const ZstdFileWriter&) = delete;

  absl::Status Write(std::string_view text);

  // Ends the frame, fsyncs and closes the file.
  absl::Status Finish();

  // After Finish: the compressed size and its SHA-256 (lower-case hex).
  uint64_t compressed_bytes() const { return bytes_; }
  const std::string& sha256() const { return sha256_; }
  const std::string& path() const { return path_; }

 private:
  struct State;  // the zstd context and the hash; archive_io.cc
  ZstdFileWriter(std::string path, int fd, std::unique_ptr<State> state);
  absl::Status Drain(std::string_view in, bool end);
  absl::Status WriteOut(const char* data, size_t size);

  const std::string path_;
  int fd_;
  std::unique_ptr<State> state_;
  uint64_t bytes_ = 0;
  std::string sha256_;
  bool finished_ = false;
};

// Reads a text file line by line, decompressing it first if it starts with
// the zstd magic number. Lines end at '\n' (a final line without one counts;
// a trailing '\r' is dropped).
class LineReader {
 public:
  static absl::StatusOr<std::unique_ptr<LineReader>> Open(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line in `line`: true; false at the end of the file. A read error,
  // a corrupt or truncated zstd frame, or an overlong line is an error naming
  // the file and the line number.
  absl::StatusOr<bool> Next(std::string& line);

  // Lines returned so far (so the number of the last one).
  uint64_t line_number() const { return line_number_; }
  bool compressed() const { return compressed_; }
  // Bytes of the file read so far (compressed bytes for a zstd file).
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  struct State;  // the zstd context; archive_io.cc
  LineReader(std::string path, int fd, bool compressed, std::unique_ptr<State> state);
  // Appends more decompressed text to buffer_; false at the end of the file.
  absl::StatusOr<bool> Fill();

  const std::string path_;
  int fd_;
  const bool compressed_;
  std::unique_ptr<State> state_;
  std::string buffer_;  // decompressed text not yet returned, from pos_
  size_t pos_ = 0;
  bool eof_ = false;
  uint64_t line_number_ = 0;
  uint64_t bytes_read_ = 0;
};

// The SHA-256 of a file's bytes, lower-case hex.
absl::StatusOr<std::string> Sha256File(const std::string& path);

// fsync of a directory, so that a rename or a new file in it survives a crash.
absl::Status FsyncDir(const std::string& dir);

// Replaces `path` with `text` atomically and durably: writes path.tmp, fsyncs
// it, renames it over `path`, fsyncs the directory.
absl::Status WriteFileAtomically(const std::string& path, std::string_view text);

}  // namespace tally

#endif  // TALLY_ANALYTICS_ARCHIVE_IO_H_
