// HttpServer: HTTP/1.1 on Boost.Beast (Asio), the only file that knows Beast.
//
// A fixed pool of I/O threads runs one io_context. Each connection is a
// Session on its own strand: read a request (header and body size limits,
// a read timeout, an idle timeout between keep-alive requests), hand it to the
// Dispatcher, and write the answer. A write's durability wait never blocks an
// I/O thread: the handler returns a DeferredWrite and the store's writer
// thread posts the response back to the session's strand once it is on disk.
//
// Streamed answers (HttpResponse::stream, e.g. exports): the producer runs on
// a thread of its own, never on an I/O thread, and hands ~64 KiB chunks
// through a small bounded queue to the session, which sends them with
// "Transfer-Encoding: chunked" (HTTP/1.0: until the connection closes). A
// slow client holds the producer back; a client that goes away or stops
// reading for write_timeout stops it (its sink's Write returns false). At
// most 4 run at once; one more is answered 503 unavailable. An error after
// the first chunk closes the connection without the final chunk.
//
// Limits: at most max_connections sessions; one more is answered 503 and
// closed. Drain() (SIGTERM): stop accepting, readyz answers 503, idle
// connections close, in-flight requests (streams too) finish and are answered
// with "Connection: close"; Run() returns when none is left or drain_timeout
// passes; streams still running then are cut and their threads joined.
//
// Thread-safety: Listen and Run from one thread; Drain from any thread (also
// from a signal handler's asio callback).
#ifndef TALLY_SERVER_HTTP_SERVER_H_
#define TALLY_SERVER_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "server/dispatch.h"
#include "server/server_context.h"

namespace tally {

class HttpServer {
 public:
  HttpServer(ServerContext* ctx, const Dispatcher* dispatcher);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds ctx->options->listen ("host:port"; port 0 picks a free port).
  absl::Status Listen();
  // The bound address, e.g. "127.0.0.1:8787" (after Listen).
  std::string address() const;

  // Serves until Drain() completes (or SIGTERM/SIGINT, which call it).
  void Run();
  void Drain();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally

#endif  // TALLY_SERVER_HTTP_SERVER_H_
