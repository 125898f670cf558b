#include "server/http_server.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "server/api_error.h"
#include "server/handlers/common.h"
#include "server/query.h"

namespace tally {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::chrono::microseconds Us(Micros us) { return std::chrono::microseconds(us); }

Method MethodOf(http::verb v) {
  switch (v) {
    case http::verb::get:
      return Method::kGet;
    case http::verb::head:
      return Method::kHead;
    case http::verb::post:
      return Method::kPost;
    case http::verb::put:
      return Method::kPut;
    case http::verb::delete_:
      return Method::kDelete;
    case http::verb::options:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

}  // namespace

class HttpServer::Impl {
 public:
  class Session;
  class Stream;

  // Streamed bodies (exports) produced at once; one more is answered 503.
  static constexpr int kMaxStreams = 4;

  Impl(ServerContext* ctx, const Dispatcher* dispatcher)
      : ctx_(ctx),
        dispatcher_(dispatcher),
        opts_(*ctx->options),
        threads_(opts_.threads > 0 ? opts_.threads : std::max(1u, std::thread::hardware_concurrency())),
        io_(threads_),
        control_(net::make_strand(io_)),
        acceptor_(control_),
        signals_(control_, SIGTERM, SIGINT),
        drain_timer_(control_),
        accept_retry_(control_) {}

  ~Impl() { StopProducers(); }

  absl::Status Listen();
  std::string address() const { return address_; }
  void Run();
  void Drain() {
    net::post(control_, [this] { DoDrain(); });
  }

 private:
  friend class Session;
  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void DoDrain();
  void CheckDrained(std::chrono::steady_clock::time_point deadline);
  // Runs `producer` into `stream` on a thread of its own; false (and nothing
  // started) when kMaxStreams are running already.
  bool StartProducer(const std::shared_ptr<Stream>& stream, BodyProducer producer);
  // Tells every producer to stop and joins their threads (after io_ stopped).
  void StopProducers();

  // Declared before io_ so that sessions still alive when io_ is destroyed
  // (after a drain timeout) can unregister themselves.
  std::atomic<int> sessions_{0};
  // Every live session, for Drain() to close the idle ones. Guarded by
  // sessions_mu_; entries are removed by each session's destructor.
  std::mutex sessions_mu_;
  std::list<std::weak_ptr<Session>> live_;

  // Producer threads running or finished but not yet joined, with their
  // streams. Guarded by producers_mu_; streams_ counts the running ones.
  std::atomic<int> streams_{0};
  std::mutex producers_mu_;
  std::list<std::pair<std::shared_ptr<Stream>, std::thread>> producers_;

  ServerContext* const ctx_;
  const Dispatcher* const dispatcher_;
  const ServerOptions& opts_;
  const int threads_;
  net::io_context io_;
  // The acceptor, the signal set, the timers and drain_started_ are used only
  // on this strand: accepting, draining and signals never run concurrently.
  net::strand<net::io_context::executor_type> control_;
  tcp::acceptor acceptor_;
  net::signal_set signals_;
  net::steady_timer drain_timer_;
  net::steady_timer accept_retry_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::string address_;
  bool drain_started_ = false;  // only touched on control_
};

// A streamed body on its way from its producer thread to a session: a small
// bounded queue of chunks. The producer blocks in Write while kMaxQueued
// chunks wait (backpressure from a slow client); the session takes them on
// its strand when its previous write is done (backpressure from a slow
// producer), and when it finds none it asks to be woken: the producer then
// posts `wake` to the session's strand with its next chunk or its result.
class HttpServer::Impl::Stream final : public BodySink {
 public:
  static constexpr size_t kMaxQueued = 4;

  // What the session takes in one go.
  struct Taken {
    std::vector<std::string> chunks;
    bool finished = false;  // the producer returned; `status` is its result
    absl::Status status;
  };

  // Set once, before the producer starts.
  explicit Stream(std::function<void()> wake) : wake_(std::move(wake)) {}

  bool Write(std::string chunk) override {
    if (chunk.empty()) return !cancelled();
    std::function<void()> wake;
    {
      std::unique_lock<std::mutex> lock(mu_);
      space_.wait(lock, [this] { return cancelled_ || chunks_.size() < kMaxQueued; });
      if (cancelled_) return false;
      chunks_.push_back(std::move(chunk));
      if (waiting_) {
        waiting_ = false;
        wake = wake_;
      }
    }
    if (wake) wake();
    return true;
  }

  // The producer returned `status`. Drops `wake` (and the session it holds).
  void Finish(absl::Status status) {
    std::function<void()> wake;
    bool waiting = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
      status_ = std::move(status);
      waiting = waiting_;
      waiting_ = false;
      wake = std::move(wake_);
      wake_ = nullptr;
    }
    if (waiting) wake();
  }

  // The body is not wanted any more: Write returns false from now on.
  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    space_.notify_all();
  }

  bool cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

  bool finished() {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }

  // Session side: every queued chunk, and whether the body is complete. With
  // neither, the next Write or Finish wakes the session.
  Taken Take() {
    Taken t;
    std::lock_guard<std::mutex> lock(mu_);
    if (chunks_.empty() && !finished_) {
      waiting_ = true;
      return t;
    }
    t.chunks.assign(std::make_move_iterator(chunks_.begin()), std::make_move_iterator(chunks_.end()));
    chunks_.clear();
    t.finished = finished_;
    t.status = status_;
    space_.notify_all();
    return t;
  }

 private:
  // Guards every member below.
  std::mutex mu_;
  std::condition_variable space_;  // signalled when chunks are taken or on Cancel
  std::deque<std::string> chunks_;
  bool waiting_ = false;  // the session waits to be woken
  bool finished_ = false;
  bool cancelled_ = false;
  absl::Status status_;
  std::function<void()> wake_;
};

// One connection. Every member is touched only on the session's strand.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Impl* server)
      : stream_(std::move(socket)), executor_(stream_.get_executor()), server_(server) {
    beast::error_code ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = peer.address().to_string();
    stream_.socket().set_option(tcp::no_delay(true), ec);
    server_->sessions_.fetch_add(1);
    server_->ctx_->metrics->ConnectionOpened();
  }
  ~Session() {
    if (body_) body_->Cancel();
    {
      std::lock_guard<std::mutex> lock(server_->sessions_mu_);
      server_->live_.erase(self_);
    }
    server_->ctx_->metrics->ConnectionClosed();
    server_->sessions_.fetch_sub(1);
  }

  void Start(std::list<std::weak_ptr<Session>>::iterator self) {
    self_ = self;
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::ReadHeader, shared_from_this()));
  }

  // Drain: a connection waiting for its next request stops waiting. Its
  // pending read is cancelled rather than its socket closed: a request whose
  // read has already completed (its handler queued on the strand) is still
  // handled and answered, with "Connection: close".
  void CloseIfIdle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->stream_.cancel();
    });
  }

 private:
  void ReadHeader() {
    busy_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->opts_.max_header_bytes));
    parser_->body_limit(server_->opts_.max_body_bytes);
    stream_.expires_after(Us(requests_ == 0 ? server_->opts_.read_timeout : server_->opts_.idle_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    busy_ = true;
    started_ = server_->ctx_->clock->Now();
    stream_.expires_after(Us(server_->opts_.read_timeout));
    const auto& req = parser_->get();
    // Route and authenticate from the header alone, before reading a body of
    // up to max_body_bytes: a client without valid credentials (or asking for
    // no endpoint) is answered now, its body never read or buffered, and the
    // connection closed.
    request_ = HttpRequest{};
    request_.method = MethodOf(req.method());
    request_.received = started_;
    request_.remote_address = remote_;
    request_.authorization = std::string(req[http::field::authorization]);
    absl::StatusOr<RequestTarget> target = SplitTarget(std::string_view(req.target().data(), req.target().size()));
    absl::StatusOr<QueryParams> query =
        target.ok() ? QueryParams::Parse(target->query) : absl::StatusOr<QueryParams>(target.status());
    std::optional<HandlerResult> early;
    if (!target.ok()) {
      early = ErrorResult(target.status());
    } else if (!query.ok()) {
      early = ErrorResult(query.status());
    } else {
      request_.path = std::move(target->path);
      request_.query = *std::move(query);
      early = server_->dispatcher_->Precheck(request_, &route_);
    }
    if (early) {
      http10_ = req.version() == 10;
      return Send(std::move(early->response), /*keep_alive=*/false, route_, req.method() == http::verb::head);
    }
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code wec, std::size_t) {
        if (wec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  void OnBody(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    ++requests_;
    Handle(parser_->release());
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return SendError(PayloadTooLarge(absl::StrCat("request body is larger than ", server_->opts_.max_body_bytes,
                                                    " bytes; split the batch")));
    }
    if (ec == http::error::header_limit) {
      ApiError e = PayloadTooLarge(absl::StrCat("request headers are larger than ",
                                                server_->opts_.max_header_bytes, " bytes"));
      e.status = 431;
      return SendError(e);
    }
    if (ec.category() == beast::error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      return SendError(ApiError{400, "invalid_request", absl::StrCat("malformed HTTP request: ", ec.message()), ""});
    }
    Close();  // end of stream, timeout, reset, or closed by Drain
  }

  void SendError(const ApiError& error) {
    busy_ = true;
    started_ = server_->ctx_->clock->Now();
    HandlerResult r = ErrorResult(error);
    Send(std::move(r.response), /*keep_alive=*/false, server_->dispatcher_->router->routes().size(), false);
  }

  void Handle(http::request<http::string_body> req) {
    const bool head = req.method() == http::verb::head;
    bool keep_alive = req.keep_alive();
    http10_ = req.version() == 10;
    request_.body = std::move(req.body());
    size_t route = route_;
    HandlerResult result = server_->dispatcher_->Dispatch(request_, &route);
    if (result.response.stream) return StartStream(std::move(result.response), keep_alive, route, head);
    if (result.durable.ticket == 0) {
      return Send(std::move(result.response), keep_alive, route, head);
    }
    // Answer once the write is on disk; the store's writer thread calls back.
    server_->ctx_->engine->WhenDurable(
        result.durable, [self = shared_from_this(), response = std::move(result.response), keep_alive, route,
                         head](const absl::Status& durable) mutable {
          net::post(self->stream_.get_executor(), [self, response = std::move(response), keep_alive, route, head,
                                                   durable]() mutable {
            if (!durable.ok()) {
              LogError(absl::StrCat("write not durable: ", durable.message()));
              response = ErrorResult(durable).response;
            }
            self->Send(std::move(response), keep_alive, route, head);
          });
        });
  }

  // The status line and headers of `response` into wire_ (cleared first).
  // `length`: the Content-Length, or -1 for a streamed body (chunked, or
  // for an HTTP/1.0 client delimited by the connection's close).
  void AppendHead(const HttpResponse& response, bool keep_alive, int64_t length) {
    const auto reason = http::obsolete_reason(static_cast<http::status>(response.status));
    wire_.clear();
    absl::StrAppend(&wire_, "HTTP/1.1 ", response.status, " ", std::string(reason.data(), reason.size()),
                    "\r\nServer: tally\r\nContent-Type: ", response.content_type, "\r\n");
    if (length >= 0) {
      absl::StrAppend(&wire_, "Content-Length: ", length, "\r\n");
    } else if (!http10_) {
      wire_.append("Transfer-Encoding: chunked\r\n");
    }
    for (const auto& [name, value] : response.headers) {
      // Header values are made by tally; a CR or LF would still never pass.
      if (value.find_first_of("\r\n") != std::string::npos) continue;
      absl::StrAppend(&wire_, name, ": ", value, "\r\n");
    }
    if (!keep_alive) {
      wire_.append("Connection: close\r\n");
    } else if (http10_) {
      wire_.append("Connection: keep-alive\r\n");
    }
    wire_.append("\r\n");
  }

  // Writes the answer as one buffer: status line, headers and body built in
  // one string (Beast's serializer cost ~22K instructions a response here).
  void Send(HttpResponse response, bool keep_alive, size_t route, bool head) {
    if (server_->ctx_->draining.load()) keep_alive = false;
    keep_alive_ = keep_alive;
    AppendHead(response, keep_alive, static_cast<int64_t>(response.body.size()));
    if (!head) wire_.append(response.body);
    if (response.status >= 500) LogWarning(absl::StrCat("answered ", response.status, " to ", remote_));
    server_->ctx_->metrics->RecordRequest(route, response.status, server_->ctx_->clock->Now() - started_);
    stream_.expires_after(Us(server_->opts_.write_timeout));
    net::async_write(stream_, net::buffer(wire_), beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  // A streamed answer (HttpResponse::stream): its producer runs on a thread
  // of its own; the head goes out with the first chunk, so an error before
  // any chunk is still a normal JSON error.
  void StartStream(HttpResponse response, bool keep_alive, size_t route, bool head) {
    if (head) {  // the head alone; nothing to produce
      if (server_->ctx_->draining.load() || http10_) keep_alive = false;
      keep_alive_ = keep_alive;
      AppendHead(response, keep_alive, -1);
      server_->ctx_->metrics->RecordRequest(route, response.status, server_->ctx_->clock->Now() - started_);
      stream_.expires_after(Us(server_->opts_.write_timeout));
      net::async_write(stream_, net::buffer(wire_), beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
      return;
    }
    // The producer's wake holds the session: a session waiting for its next
    // chunk has no I/O pending to keep it alive.
    auto body = std::make_shared<Stream>([self = shared_from_this()] {
      net::post(self->executor_, [self] { self->PumpStream(); });
    });
    BodyProducer producer = std::move(response.stream);
    response.stream = nullptr;
    if (!server_->StartProducer(body, std::move(producer))) {
      body->Finish(absl::OkStatus());  // drops the wake
      HandlerResult busy = ErrorResult(ApiError{
          503, "unavailable",
          absl::StrCat("too many exports are running (", kMaxStreams, "); retry in a moment"), ""});
      busy.response.headers.emplace_back("Retry-After", "1");
      return Send(std::move(busy.response), keep_alive, route, false);
    }
    body_ = std::move(body);
    body_head_ = std::move(response);
    body_keep_alive_ = keep_alive && !http10_;
    body_route_ = route;
    body_started_ = false;
    PumpStream();
  }

  // Sends what the producer has queued; called when a write is done and when
  // the producer wakes the session.
  void PumpStream() {
    if (!body_ || body_writing_) return;
    Stream::Taken taken = body_->Take();
    if (taken.chunks.empty() && !taken.finished) return;  // woken by the next Write or Finish
    if (!body_started_) {
      if (taken.chunks.empty() && !taken.status.ok()) {
        // Nothing sent yet: a normal error answer.
        body_.reset();
        return Send(ErrorResult(taken.status).response, body_keep_alive_, body_route_, false);
      }
      if (server_->ctx_->draining.load()) body_keep_alive_ = false;
      AppendHead(body_head_, body_keep_alive_, -1);
      body_started_ = true;
    } else {
      wire_.clear();
    }
    for (const std::string& chunk : taken.chunks) {
      if (http10_) {
        wire_.append(chunk);
      } else {
        absl::StrAppend(&wire_, absl::Hex(chunk.size()), "\r\n");
        wire_.append(chunk);
        wire_.append("\r\n");
      }
    }
    const bool end = taken.finished && taken.status.ok();
    const bool abort = taken.finished && !taken.status.ok();
    if (abort) {
      LogWarning(absl::StrCat("streamed answer to ", remote_, " cut short: ", taken.status.message()));
    }
    if (end && !http10_) wire_.append("0\r\n\r\n");
    if (wire_.empty()) return OnStreamWrite(end, abort, {}, 0);
    body_writing_ = true;
    stream_.expires_after(Us(server_->opts_.write_timeout));
    net::async_write(stream_, net::buffer(wire_),
                     beast::bind_front_handler(&Session::OnStreamWrite, shared_from_this(), end, abort));
  }

  void OnStreamWrite(bool end, bool abort, beast::error_code ec, std::size_t) {
    body_writing_ = false;
    if (!ec && !end && !abort) return PumpStream();
    // The client went away or timed out, the producer failed, or the body
    // is complete.
    body_->Cancel();
    body_.reset();
    server_->ctx_->metrics->RecordRequest(body_route_, ec || abort ? 500 : body_head_.status,
                                          server_->ctx_->clock->Now() - started_);
    if (ec || abort) return Close();  // no final chunk: the client sees the cut
    keep_alive_ = body_keep_alive_;
    OnWrite(ec, 0);
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    // Draining: no next request on this connection, even if the answer went
    // out before the drain began.
    if (ec || !keep_alive_ || server_->ctx_->draining.load()) return Close();
    ReadHeader();
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const net::any_io_executor executor_;  // stream_'s strand, for other threads to post to
  Impl* const server_;
  std::list<std::weak_ptr<Session>>::iterator self_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;     // the request being read or handled
  size_t route_ = 0;        // its route index, for metrics
  std::string wire_;        // the answer being written
  bool keep_alive_ = false;  // of the answer being written
  bool http10_ = false;      // the request was HTTP/1.0
  std::string remote_;
  bool busy_ = false;  // a request is being read, handled or answered
  int64_t requests_ = 0;
  Micros started_ = 0;
  // The streamed answer being sent, if any (StartStream).
  std::shared_ptr<Stream> body_;
  HttpResponse body_head_;       // its status and headers
  bool body_keep_alive_ = false;
  size_t body_route_ = 0;
  bool body_started_ = false;  // its head has been written
  bool body_writing_ = false;  // a write of it is in flight
};

bool HttpServer::Impl::StartProducer(const std::shared_ptr<Stream>& stream, BodyProducer producer) {
  if (streams_.fetch_add(1) >= kMaxStreams) {
    streams_.fetch_sub(1);
    return false;
  }
  std::lock_guard<std::mutex> lock(producers_mu_);
  // Join the threads that have ended: finished, and their stream held only
  // here (the thread's own reference goes when its function returns).
  for (auto it = producers_.begin(); it != producers_.end();) {
    if (it->first->finished() && it->first.use_count() == 1) {
      it->second.join();
      it = producers_.erase(it);
    } else {
      ++it;
    }
  }
  producers_.emplace_back(stream, std::thread([this, stream, producer = std::move(producer)]() mutable {
    absl::Status status;
    try {
      status = producer(*stream);
    } catch (const std::exception& e) {
      LogError(absl::StrCat("streamed answer failed: ", e.what()));
      status = absl::InternalError("internal error; it has been logged");
    }
    producer = nullptr;  // before the count drops: nothing of the request outlives it
    stream->Finish(std::move(status));
    streams_.fetch_sub(1);
  }));
  return true;
}

void HttpServer::Impl::StopProducers() {
  std::list<std::pair<std::shared_ptr<Stream>, std::thread>> producers;
  {
    std::lock_guard<std::mutex> lock(producers_mu_);
    producers.swap(producers_);
  }
  for (auto& [stream, thread] : producers) stream->Cancel();
  for (auto& [stream, thread] : producers) thread.join();
}

absl::Status HttpServer::Impl::Listen() {
  const std::string& listen = opts_.listen;
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: \"", listen, "\" is not host:port (such as 127.0.0.1:8787, or 0.0.0.0:8787)"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  const net::ip::address addr = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--listen: \"", host, "\" is not an IP address"));
  const tcp::endpoint endpoint(addr, static_cast<unsigned short>(port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, ": ", ec.message()));
  const tcp::endpoint bound = acceptor_.local_endpoint(ec);
  address_ = absl::StrCat(bound.address().is_v6() ? "[" : "", bound.address().to_string(),
                          bound.address().is_v6() ? "]" : "", ":", bound.port());
  return absl::OkStatus();
}

void HttpServer::Impl::Accept() {
  acceptor_.async_accept(net::make_strand(io_),
                         net::bind_executor(control_, beast::bind_front_handler(&Impl::OnAccept, this)));
}

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open() || drain_started_) return;
  if (ec) {
    // Most likely out of file descriptors: back off rather than spin.
    LogWarning(absl::StrCat("accept failed: ", ec.message(), "; retrying in 100 ms"));
    accept_retry_.expires_after(std::chrono::milliseconds(100));
    accept_retry_.async_wait([this](beast::error_code) { Accept(); });
    return;
  }
  if (sessions_.load() >= opts_.max_connections) {
    ctx_->metrics->ConnectionRefused();
    static const std::string kBusy = [] {
      const std::string body =
          "{\"error\":{\"code\":\"unavailable\",\"message\":\"too many connections; retry or reuse a "
          "connection\"}}";
      return absl::StrCat("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n",
                          "Connection: close\r\nRetry-After: 1\r\nContent-Length: ", body.size(), "\r\n\r\n",
                          body);
    }();
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(kBusy), ignored);
    socket.close(ignored);
  } else {
    auto session = std::make_shared<Session>(std::move(socket), this);
    std::list<std::weak_ptr<Session>>::iterator it;
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      it = live_.insert(live_.end(), session);
    }
    session->Start(it);
  }
  Accept();
}

void HttpServer::Impl::Run() {
  work_.emplace(io_.get_executor());
  signals_.async_wait([this](beast::error_code ec, int signal) {
    if (ec) return;
    LogInfo(absl::StrCat(signal == SIGTERM ? "SIGTERM" : "SIGINT", ": draining"));
    DoDrain();
  });
  Accept();
  LogInfo(absl::StrCat("listening on http://", address_, " with ", threads_, " I/O threads"));
  std::vector<std::thread> threads;
  for (int i = 1; i < threads_; ++i) threads.emplace_back([this] { io_.run(); });
  io_.run();
  for (std::thread& t : threads) t.join();
  // Streams still running after the drain (or its timeout) are cut.
  StopProducers();
}

void HttpServer::Impl::DoDrain() {
  if (drain_started_) return;
  drain_started_ = true;
  ctx_->draining.store(true);
  beast::error_code ec;
  acceptor_.close(ec);
  // A second SIGTERM or SIGINT during the drain stops at once.
  signals_.async_wait([this](beast::error_code wait_ec, int) {
    if (wait_ec) return;
    LogWarning("second signal: stopping without waiting for open connections");
    work_.reset();
    io_.stop();
  });
  accept_retry_.cancel();
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    for (auto& weak : live_) {
      if (auto s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  LogInfo(absl::StrCat("stopped accepting; finishing ", sessions.size(), " open connections"));
  for (auto& s : sessions) s->CloseIfIdle();
  sessions.clear();
  CheckDrained(std::chrono::steady_clock::now() + Us(opts_.drain_timeout));
}

void HttpServer::Impl::CheckDrained(std::chrono::steady_clock::time_point deadline) {
  const int left = sessions_.load();
  if (left == 0 || std::chrono::steady_clock::now() >= deadline) {
    if (left > 0) LogWarning(absl::StrCat("drain timed out with ", left, " connections still open"));
    work_.reset();
    io_.stop();
    return;
  }
  drain_timer_.expires_after(std::chrono::milliseconds(5));
  drain_timer_.async_wait([this, deadline](beast::error_code) { CheckDrained(deadline); });
}

HttpServer::HttpServer(ServerContext* ctx, const Dispatcher* dispatcher)
    : impl_(std::make_unique<Impl>(ctx, dispatcher)) {}
HttpServer::~HttpServer() = default;
absl::Status HttpServer::Listen() { return impl_->Listen(); }
std::string HttpServer::address() const { return impl_->address(); }
void HttpServer::Run() { impl_->Run(); }
void HttpServer::Drain() { impl_->Drain(); }

}  // namespace tally
