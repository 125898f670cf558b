// HttpClient (see http_client.h). Every operation is an asynchronous Beast
// operation run to completion on the client's own io_context, so that each
// gets a timeout (a blocking socket read cannot have one under Asio).
#include "http_client.h"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <utility>

namespace tally::http_test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::uint64_t kMaxResponseBody = 256u << 20;
constexpr std::uint32_t kMaxResponseHeader = 1u << 20;

bool IEquals(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

void FillFrom(const http::response<http::string_body>& msg, Response* r) {
  r->status = static_cast<int>(msg.result_int());
  r->body = msg.body();
  r->keep_alive = msg.keep_alive();
  for (const auto& field : msg) {
    r->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Response

std::string Response::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return "";
}

bool Response::HasHeader(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return IEquals(h.first, name); });
}

const boost::json::value& Response::Json(bool* ok) const {
  if (!parsed_.has_value()) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec);
    parsed_ok_ = !ec;
    parsed_ = parsed_ok_ ? std::move(v) : boost::json::value(nullptr);
  }
  if (ok != nullptr) *ok = parsed_ok_;
  return *parsed_;
}

std::string Response::Describe() const {
  if (status == 0) return "no response: " + error + (partial ? " (after a partial response)" : "");
  std::string text = std::to_string(status) + " " + body.substr(0, 600);
  if (body.size() > 600) text += "...";
  return text;
}

Response ParseRawResponse(std::string_view raw) {
  Response r;
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(kMaxResponseBody);
  parser.header_limit(kMaxResponseHeader);
  beast::error_code ec;
  size_t used = 0;
  while (!parser.is_done() && used < raw.size()) {
    const size_t n = parser.put(net::buffer(raw.data() + used, raw.size() - used), ec);
    used += n;
    if (ec || n == 0) break;
  }
  if (!parser.is_done() && (!ec || ec == http::error::need_more)) {
    ec = {};
    parser.put_eof(ec);
  }
  if (!parser.is_done()) {
    r.error = ec ? ec.message() : "incomplete response";
    r.partial = !raw.empty();
    return r;
  }
  FillFrom(parser.get(), &r);
  return r;
}

// ---------------------------------------------------------------------------
// HttpClient

class HttpClient::Impl {
 public:
  explicit Impl(std::string address) : address_(std::move(address)) {}

  const std::string& address() const { return address_; }

  bool connected() const { return stream_.has_value() && stream_->socket().is_open(); }

  void Close() {
    if (!stream_) return;
    beast::error_code ec;
    stream_->socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_->socket().close(ec);
    stream_.reset();
    buffer_.clear();
  }

  bool Connect(std::chrono::milliseconds timeout, int receive_buffer, std::string* error) {
    Close();
    const size_t colon = address_.rfind(':');
    if (colon == std::string::npos) {
      if (error) *error = "bad address " + address_;
      return false;
    }
    std::string host = address_.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    beast::error_code ec;
    const net::ip::address ip = net::ip::make_address(host, ec);
    if (ec) {
      if (error) *error = "bad host " + host;
      return false;
    }
    const auto port = static_cast<unsigned short>(std::stoi(address_.substr(colon + 1)));
    stream_.emplace(ioc_);
    if (receive_buffer > 0) {
      // Before connecting, so that the window the server sees is small.
      stream_->socket().open(ip.is_v6() ? tcp::v6() : tcp::v4(), ec);
      if (!ec)
        stream_->socket().set_option(net::socket_base::receive_buffer_size(receive_buffer), ec);
      if (ec) {
        if (error) *error = "socket: " + ec.message();
        Close();
        return false;
      }
    }
    stream_->expires_after(timeout);
    beast::error_code result = net::error::would_block;
    stream_->async_connect(tcp::endpoint(ip, port), [&](beast::error_code e) { result = e; });
    RunLoop();
    if (result) {
      if (error) *error = "connect: " + result.message();
      Close();
      return false;
    }
    beast::error_code ignored;
    stream_->socket().set_option(tcp::no_delay(true), ignored);
    return true;
  }

  beast::error_code Write(std::string_view bytes, std::chrono::milliseconds timeout) {
    stream_->expires_after(timeout);
    beast::error_code result = net::error::would_block;
    net::async_write(*stream_, net::buffer(bytes.data(), bytes.size()),
                     [&](beast::error_code e, std::size_t) { result = e; });
    RunLoop();
    return result;
  }

  beast::error_code WriteRequest(http::request<http::string_body>& req,
                                 std::chrono::milliseconds timeout) {
    stream_->expires_after(timeout);
    beast::error_code result = net::error::would_block;
    http::async_write(*stream_, req, [&](beast::error_code e, std::size_t) { result = e; });
    RunLoop();
    return result;
  }

  Response Read(bool head, std::chrono::milliseconds timeout) {
    Response r;
    if (!connected()) {
      r.error = "not connected";
      return r;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBody);
    parser.header_limit(kMaxResponseHeader);
    if (head) parser.skip(true);
    const size_t buffered = buffer_.size();
    stream_->expires_after(timeout);
    beast::error_code result = net::error::would_block;
    http::async_read(*stream_, buffer_, parser,
                     [&](beast::error_code e, std::size_t) { result = e; });
    RunLoop();
    if (result) {
      r.error = "read: " + result.message();
      r.partial = parser.got_some() || buffered > 0;
      Close();
      return r;
    }
    FillFrom(parser.get(), &r);
    if (!r.keep_alive) Close();
    return r;
  }

  std::string ReadUntilClose(std::chrono::milliseconds timeout, bool* closed) {
    std::string out;
    if (closed) *closed = false;
    if (!stream_) {
      if (closed) *closed = true;
      return out;
    }
    const auto data = buffer_.data();
    out.append(static_cast<const char*>(data.data()), data.size());
    buffer_.consume(buffer_.size());
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char chunk[16 * 1024];
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      stream_->expires_after(left);
      beast::error_code result = net::error::would_block;
      std::size_t got = 0;
      stream_->async_read_some(net::buffer(chunk), [&](beast::error_code e, std::size_t n) {
        result = e;
        got = n;
      });
      RunLoop();
      out.append(chunk, got);
      if (!result) continue;
      if (result != beast::error::timeout && closed) *closed = true;
      break;
    }
    Close();
    return out;
  }

 private:
  void RunLoop() {
    ioc_.restart();
    ioc_.run();
  }

  const std::string address_;
  net::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

HttpClient::HttpClient(std::string address, std::string token)
    : impl_(std::make_unique<Impl>(std::move(address))), token_(std::move(token)) {}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

bool HttpClient::connected() const { return impl_->connected(); }
void HttpClient::Close() { impl_->Close(); }

bool HttpClient::Connect(std::string* error) {
  if (impl_->connected()) return true;
  ++connects_;
  return impl_->Connect(timeout_, receive_buffer_, error);
}

Response HttpClient::Request(const std::string& method, const std::string& target,
                             const std::string& body, const Headers& extra) {
  Response r;
  if (!Connect(&r.error)) return r;
  http::request<http::string_body> req;
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(target);
  req.version(11);
  req.set(http::field::host, impl_->address());
  req.set(http::field::user_agent, "tally-http-test");
  bool has_auth = false;
  bool has_type = false;
  for (const auto& [name, value] : extra) {
    has_auth = has_auth || IEquals(name, "authorization");
    has_type = has_type || IEquals(name, "content-type");
    req.insert(name, value);
  }
  if (!has_auth && !token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
  if (!body.empty() && !has_type) req.set(http::field::content_type, "application/json");
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();
  const beast::error_code written = impl_->WriteRequest(req, timeout_);
  // Even when the write failed the server may have answered (and closed)
  // early, e.g. 413 or 431: read what it said.
  Response answer = impl_->Read(method == "HEAD", timeout_);
  if (answer.status == 0 && written)
    answer.error = "write: " + written.message() + "; " + answer.error;
  return answer;
}

bool HttpClient::WriteRaw(std::string_view bytes, std::string* error) {
  if (!Connect(error)) return false;
  const auto ec = impl_->Write(bytes, timeout_);
  if (ec && error) *error = "write: " + ec.message();
  return !ec;
}

Response HttpClient::ReadResponse(bool head) { return impl_->Read(head, timeout_); }

std::string HttpClient::ReadUntilClose(std::chrono::milliseconds timeout, bool* closed) {
  return impl_->ReadUntilClose(timeout, closed);
}

}  // namespace tally::http_test
