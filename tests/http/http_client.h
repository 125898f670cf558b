// HttpClient: a small blocking HTTP/1.1 client for the integration tests of
// `tally serve`, on Boost.Beast. One client is one connection at a time:
// requests reuse it (keep-alive) until the server answers "Connection: close"
// or a transport error happens; the next request then connects again
// (connects() counts how often).
//
// Nothing throws: a request that got no complete answer comes back with
// status 0 and `error` saying why, and `partial` set when some bytes of an
// answer had arrived (a truncated response, which a server must never send).
//
// Raw mode, for malformed requests: WriteRaw() puts bytes on the connection
// as they are; ReadResponse() reads one HTTP response; ReadUntilClose() reads
// whatever arrives until the server closes or the timeout passes.
//
// Thread-safety: a client is used by one thread at a time; separate clients
// are independent.
#ifndef TALLY_TESTS_HTTP_HTTP_CLIENT_H_
#define TALLY_TESTS_HTTP_HTTP_CLIENT_H_

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tally::http_test {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
  int status = 0;        // 0: no complete response (see error)
  std::string error;     // transport or parse error, when status == 0
  bool partial = false;  // status 0 after some bytes of a response arrived
  std::string body;
  Headers headers;  // in the order received
  bool keep_alive = true;

 private:
  mutable std::optional<boost::json::value> parsed_;  // Json()'s cache
  mutable bool parsed_ok_ = false;

 public:
  // The first header of that name (case-insensitive), or "" when absent.
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
  // The body parsed as JSON (once; the value lives as long as the response),
  // or a null value (and *ok false) when it is not JSON.
  const boost::json::value& Json(bool* ok = nullptr) const;
  // "404 {...}" for assertion messages (the body cut at 600 bytes).
  std::string Describe() const;
};

// Parses one complete HTTP response held in `raw` (from ReadUntilClose);
// status 0 when it is not one.
Response ParseRawResponse(std::string_view raw);

class HttpClient {
 public:
  // `address` is "host:port" as tally writes it into --port-file; `token`
  // goes into "Authorization: Bearer <token>" unless empty.
  explicit HttpClient(std::string address, std::string token = "");
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  void set_token(std::string token) { token_ = std::move(token); }
  const std::string& token() const { return token_; }
  // Per operation (connect, write, read). Default: 20 s.
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  // SO_RCVBUF of the next connections, e.g. a few KiB for a client that is
  // slow to read. Default: 0, the system's.
  void set_receive_buffer(int bytes) { receive_buffer_ = bytes; }

  Response Get(const std::string& target) { return Request("GET", target); }
  Response Delete(const std::string& target) { return Request("DELETE", target); }
  Response Post(const std::string& target, const std::string& body) {
    return Request("POST", target, body);
  }
  Response Put(const std::string& target, const std::string& body) {
    return Request("PUT", target, body);
  }
  Response Post(const std::string& target, const char* body) {
    return Request("POST", target, body);
  }
  Response Put(const std::string& target, const char* body) { return Request("PUT", target, body); }
  Response Post(const std::string& target, const boost::json::value& body) {
    return Request("POST", target, boost::json::serialize(body));
  }
  Response Put(const std::string& target, const boost::json::value& body) {
    return Request("PUT", target, boost::json::serialize(body));
  }

  // Any method (also ones Beast does not know, e.g. "PATCH"). `extra` headers
  // are added; an "Authorization" among them replaces the token's.
  // `body` gets "Content-Type: application/json" unless `extra` names one.
  Response Request(const std::string& method, const std::string& target,
                   const std::string& body = "", const Headers& extra = {});

  // --- Raw mode ---
  // Connects if not connected; false (with `error`) on failure.
  bool Connect(std::string* error = nullptr);
  // Writes `bytes` as they are on the current connection (connecting first).
  bool WriteRaw(std::string_view bytes, std::string* error = nullptr);
  // Reads one HTTP response from the current connection.
  Response ReadResponse(bool head = false);
  // Reads until the server closes the connection (or resets it) or `timeout`
  // passes; *closed says which. Returns everything read.
  std::string ReadUntilClose(std::chrono::milliseconds timeout, bool* closed = nullptr);

  bool connected() const;
  void Close();
  // How many connections this client has opened.
  int connects() const { return connects_; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::string token_;
  std::chrono::milliseconds timeout_{20'000};
  int receive_buffer_ = 0;
  int connects_ = 0;
};

}  // namespace tally::http_test

#endif  // TALLY_TESTS_HTTP_HTTP_CLIENT_H_
