#include "analytics/archive_io.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tally {
namespace {

constexpr unsigned char kZstdMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};

std::string Errno() { return std::strerror(errno); }

// SHA-256 over a stream of bytes.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size) { EVP_DigestUpdate(ctx_, data, size); }
  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx_, digest, &size);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
      out.push_back(kHex[digest[i] >> 4]);
      out.push_back(kHex[digest[i] & 15]);
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

// --- ZstdFileWriter ---------------------------------------------------------

struct ZstdFileWriter::State {
  ZSTD_CCtx* cctx = nullptr;
  std::vector<char> out;
  Sha256 hash;
  ~State() { ZSTD_freeCCtx(cctx); }
};

absl::StatusOr<std::unique_ptr<ZstdFileWriter>> ZstdFileWriter::Create(const std::string& path,
                                                                       int level) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("cannot create ", path, ": ", Errno()));
  auto state = std::make_unique<State>();
  state->cctx = ZSTD_createCCtx();
  if (state->cctx == nullptr ||
      ZSTD_isError(ZSTD_CCtx_setParameter(state->cctx, ZSTD_c_compressionLevel, level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(state->cctx, ZSTD_c_checksumFlag, 1))) {
    ::close(fd);
    ::unlink(path.c_str());
    return absl::InternalError("cannot set up zstd compression");
  }
  state->out.resize(ZSTD_CStreamOutSize());
  return std::unique_ptr<ZstdFileWriter>(new ZstdFileWriter(path, fd, std::move(state)));
}

ZstdFileWriter::ZstdFileWriter(std::string path, int fd, std::unique_ptr<State> state)
    : path_(std::move(path)), fd_(fd), state_(std::move(state)) {}

ZstdFileWriter::~ZstdFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_) ::unlink(path_.c_str());
}

absl::Status ZstdFileWriter::WriteOut(const char* data, size_t size) {
  if (!WriteAll(fd_, data, size)) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path_, ": ", Errno()));
  }
  state_->hash.Update(data, size);
  bytes_ += size;
  return absl::OkStatus();
}

absl::Status ZstdFileWriter::Drain(std::string_view in, bool end) {
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  const ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
  for (;;) {
    ZSTD_outBuffer output{state_->out.data(), state_->out.size(), 0};
    const size_t remaining = ZSTD_compressStream2(state_->cctx, &output, &input, mode);
    if (ZSTD_isError(remaining)) {
      return absl::InternalError(
          absl::StrCat("zstd compression of ", path_, " failed: ", ZSTD_getErrorName(remaining)));
    }
    if (absl::Status s = WriteOut(state_->out.data(), output.pos); !s.ok()) return s;
    if (end ? remaining == 0 : input.pos == input.size) return absl::OkStatus();
  }
}

absl::Status ZstdFileWriter::Write(std::string_view text) {
  if (finished_ || fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, " is closed"));
  return Drain(text, /*end=*/false);
}

absl::Status ZstdFileWriter::Finish() {
  if (finished_ || fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, " is closed"));
  if (absl::Status s = Drain({}, /*end=*/true); !s.ok()) return s;
  if (::fsync(fd_) != 0) return absl::UnavailableError(absl::StrCat("cannot fsync ", path_, ": ", Errno()));
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return absl::UnavailableError(absl::StrCat("cannot close ", path_, ": ", Errno()));
  sha256_ = state_->hash.HexDigest();
  finished_ = true;
  return absl::OkStatus();
}

// --- LineReader ---------------------------------------------------------------

struct LineReader::State {
  ZSTD_DCtx* dctx = nullptr;
  std::vector<char> in;  // compressed bytes read from the file, [in_pos, in_size)
  size_t in_pos = 0;
  size_t in_size = 0;
  std::vector<char> out;
  size_t last_result = 0;  // ZSTD_decompressStream's last hint: 0 = at a frame's end
  bool any_frame = false;
  bool out_full = false;  // the last call filled `out`: zstd may hold more output
  ~State() { ZSTD_freeDCtx(dctx); }
};

absl::StatusOr<std::unique_ptr<LineReader>> LineReader::Open(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is a directory"));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT ? absl::NotFoundError(absl::StrCat("cannot open ", path, ": no such file"))
                           : absl::PermissionDeniedError(absl::StrCat("cannot open ", path, ": ", Errno()));
  }
  unsigned char magic[4] = {0, 0, 0, 0};
  const ssize_t n = ::pread(fd, magic, sizeof magic, 0);
  const bool compressed = n == 4 && std::memcmp(magic, kZstdMagic, 4) == 0;
  auto state = std::make_unique<State>();
  if (compressed) {
    state->dctx = ZSTD_createDCtx();
    if (state->dctx == nullptr) {
      ::close(fd);
      return absl::InternalError("cannot set up zstd decompression");
    }
    state->in.resize(ZSTD_DStreamInSize());
    state->out.resize(ZSTD_DStreamOutSize());
  } else {
    state->in.resize(1 << 16);
  }
  return std::unique_ptr<LineReader>(new LineReader(path, fd, compressed, std::move(state)));
}

LineReader::LineReader(std::string path, int fd, bool compressed, std::unique_ptr<State> state)
    : path_(std::move(path)), fd_(fd), compressed_(compressed), state_(std::move(state)) {}

LineReader::~LineReader() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<bool> LineReader::Fill() {
  State& st = *state_;
  for (;;) {
    if (st.in_pos == st.in_size && !st.out_full) {
      ssize_t n;
      do {
        n = ::read(fd_, st.in.data(), st.in.size());
      } while (n < 0 && errno == EINTR);
      if (n < 0) return absl::UnavailableError(absl::StrCat("cannot read ", path_, ": ", Errno()));
      if (n == 0) {
        if (compressed_ && (st.last_result != 0 || !st.any_frame)) {
          return absl::DataLossError(absl::StrCat(
              path_, ": truncated zstd file (it ends inside a compressed frame, after line ",
              line_number_, ")"));
        }
        return false;
      }
      bytes_read_ += static_cast<uint64_t>(n);
      st.in_pos = 0;
      st.in_size = static_cast<size_t>(n);
    }
    if (!compressed_) {
      buffer_.append(st.in.data() + st.in_pos, st.in_size - st.in_pos);
      st.in_pos = st.in_size;
      return true;
    }
    ZSTD_inBuffer input{st.in.data(), st.in_size, st.in_pos};
    ZSTD_outBuffer output{st.out.data(), st.out.size(), 0};
    const size_t result = ZSTD_decompressStream(st.dctx, &output, &input);
    if (ZSTD_isError(result)) {
      return absl::DataLossError(absl::StrCat(path_, ": corrupt zstd data after line ", line_number_,
                                              " (", ZSTD_getErrorName(result), ")"));
    }
    st.any_frame = true;
    st.last_result = result;
    st.in_pos = input.pos;
    st.out_full = output.pos == output.size;
    if (output.pos > 0) {
      buffer_.append(st.out.data(), output.pos);
      return true;
    }
  }
}

absl::StatusOr<bool> LineReader::Next(std::string& line) {
  for (;;) {
    const size_t nl = buffer_.find('\n', pos_);
    if (nl != std::string::npos) {
      line.assign(buffer_, pos_, nl - pos_);
      pos_ = nl + 1;
      break;
    }
    if (buffer_.size() - pos_ > kMaxLineBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ":", line_number_ + 1, ": line longer than ", kMaxLineBytes, " bytes"));
    }
    buffer_.erase(0, pos_);
    pos_ = 0;
    if (eof_) {
      if (buffer_.empty()) return false;
      line.swap(buffer_);
      buffer_.clear();
      break;
    }
    absl::StatusOr<bool> more = Fill();
    if (!more.ok()) return more.status();
    if (!*more) eof_ = true;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  ++line_number_;
  return true;
}

// --- Files and directories -----------------------------------------------

absl::StatusOr<std::string> Sha256File(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", Errno()));
  Sha256 hash;
  std::vector<char> buf(1 << 16);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string error = Errno();
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ", error));
    }
    if (n == 0) break;
    hash.Update(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return hash.HexDigest();
}

absl::Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot open directory ", dir, ": ", Errno()));
  const int rc = ::fsync(fd);
  const std::string error = rc != 0 ? Errno() : "";
  ::close(fd);
  if (rc != 0) return absl::UnavailableError(absl::StrCat("cannot fsync directory ", dir, ": ", error));
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("cannot write ", tmp, ": ", Errno()));
  const bool ok = WriteAll(fd, text.data(), text.size()) && ::fsync(fd) == 0;
  const std::string error = ok ? "" : Errno();
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("cannot write ", tmp, ": ", error));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string rename_error = Errno();
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, " to ", path, ": ", rename_error));
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return FsyncDir(dir.empty() ? "." : dir);
}

}  // namespace tally
