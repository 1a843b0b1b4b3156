#pragma once
// A TCP proxy on 127.0.0.1 between poetryops and a real server (registry, git server, API server,
// Prometheus) that injects the faults a real server does not produce on demand (issue #15
// "Faults"): it drops connections, resets them, answers an HTTP status with Retry-After instead
// of forwarding, or forwards the start of a response and then stalls. Each fault applies to new
// connections, to the next N of them or until cleared; a connection already open keeps its fate.
// This is the one fake of the chaos tests, and it fakes only the network: behind it the server is
// real.
//
//   FaultProxy proxy(registry->port());
//   proxy.set({FaultKind::http_status, .status = 503, .retry_after = 1});  // every connection
//   proxy.set({FaultKind::reset, .count = 2});                             // the next two
//   proxy.clear();

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace poetryops::test {

enum class FaultKind {
    pass,         ///< forward both ways
    close,        ///< accept, then close at once (a server dropping the connection)
    reset,        ///< accept, then reset (RST) the connection
    http_status,  ///< read the request's headers, answer `status` (+ Retry-After), close
    stall,        ///< forward the request, forward `stall_after` bytes of the answer, then nothing
};

struct Fault {
    FaultKind kind = FaultKind::pass;
    int status = 503;             ///< http_status
    int retry_after = -1;         ///< http_status: the Retry-After seconds; < 0: no header
    std::size_t stall_after = 0;  ///< stall: bytes of the answer forwarded first
    int count = -1;               ///< the next `count` connections; < 0: until set again
};

class FaultProxy {
public:
    /// Listens on a free port of 127.0.0.1 and forwards to 127.0.0.1:upstream_port.
    explicit FaultProxy(int upstream_port);
    ~FaultProxy();
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    int port() const { return port_; }
    void set(Fault fault);
    void clear() { set({}); }
    /// Closes every connection open now, both ways (a watch stream cut by a load balancer or a
    /// restarting server); new connections follow the fault set.
    void cut_all();
    /// Connections accepted so far, and those a fault was applied to.
    int connections() const { return connections_; }
    int faulted() const { return faulted_; }

private:
    Fault next_fault();
    void accept_loop();
    void serve(int client, Fault fault);

    int upstream_port_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0}, faulted_{0};
    std::mutex mu_;
    Fault fault_;
    std::vector<std::thread> workers_;
    std::vector<int> open_fds_;
    std::thread acceptor_;
};

}  // namespace poetryops::test
