#include "support/http/fault_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace poetryops::test {

namespace {

int listen_loopback(int& port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("bind/listen failed");
    }
    port = ntohs(addr.sin_port);
    return fd;
}

int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool write_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
        if (w <= 0) return false;
        data += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

std::string reason_phrase(int status) {
    switch (status) {
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return "Error";
    }
}

}  // namespace

FaultProxy::FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
    listen_fd_ = listen_loopback(port_);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    {
        std::lock_guard lock(mu_);
        for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_)
        if (t.joinable()) t.join();
    ::close(listen_fd_);
}

void FaultProxy::set(Fault fault) {
    std::lock_guard lock(mu_);
    fault_ = fault;
}

void FaultProxy::cut_all() {
    std::lock_guard lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
}

Fault FaultProxy::next_fault() {
    std::lock_guard lock(mu_);
    Fault f = fault_;
    if (fault_.kind != FaultKind::pass && fault_.count > 0 && --fault_.count == 0) fault_ = {};
    return f;
}

void FaultProxy::accept_loop() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        ++connections_;
        Fault f = next_fault();
        if (f.kind != FaultKind::pass) ++faulted_;
        std::lock_guard lock(mu_);
        open_fds_.push_back(client);
        workers_.emplace_back([this, client, f] { serve(client, f); });
    }
}

void FaultProxy::serve(int client, Fault fault) {
    auto forget = [&](int fd) {
        std::lock_guard lock(mu_);
        open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
        ::close(fd);
    };
    switch (fault.kind) {
        case FaultKind::close: forget(client); return;
        case FaultKind::reset: {
            linger l{1, 0};  // close with RST
            ::setsockopt(client, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            forget(client);
            return;
        }
        case FaultKind::http_status: {
            std::string head;
            char buf[4096];
            while (!stop_ && head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
                pollfd p{client, POLLIN, 0};
                if (::poll(&p, 1, 50) <= 0) continue;
                ssize_t n = ::recv(client, buf, sizeof buf, 0);
                if (n <= 0) break;
                head.append(buf, static_cast<std::size_t>(n));
            }
            std::string answer = "HTTP/1.1 " + std::to_string(fault.status) + " " +
                                 reason_phrase(fault.status) + "\r\n";
            if (fault.retry_after >= 0)
                answer += "Retry-After: " + std::to_string(fault.retry_after) + "\r\n";
            answer +=
                "Content-Type: text/plain\r\nContent-Length: 15\r\nConnection: close\r\n\r\n"
                "injected fault\n";
            write_all(client, answer.data(), answer.size());
            forget(client);
            return;
        }
        case FaultKind::pass:
        case FaultKind::stall: break;
    }
    int upstream = connect_loopback(upstream_port_);
    if (upstream < 0) {
        forget(client);
        return;
    }
    {
        std::lock_guard lock(mu_);
        open_fds_.push_back(upstream);
    }
    std::size_t answered = 0;
    bool stalled = false;
    char buf[16384];
    while (!stop_) {
        pollfd p[2] = {{client, POLLIN, 0},
                       {upstream, static_cast<short>(stalled ? 0 : POLLIN), 0}};
        if (::poll(p, 2, 50) <= 0) continue;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::recv(client, buf, sizeof buf, 0);
            if (n <= 0) break;
            if (!stalled && !write_all(upstream, buf, static_cast<std::size_t>(n))) break;
        }
        if (!stalled && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            std::size_t room = sizeof buf;
            if (fault.kind == FaultKind::stall) room = std::min(room, fault.stall_after - answered);
            ssize_t n = room == 0 ? 0 : ::recv(upstream, buf, room, 0);
            if (room != 0 && n <= 0) break;
            if (n > 0 && !write_all(client, buf, static_cast<std::size_t>(n))) break;
            answered += static_cast<std::size_t>(std::max<ssize_t>(n, 0));
            // From here on the client waits for bytes that never come, until it gives up.
            if (fault.kind == FaultKind::stall && answered >= fault.stall_after) stalled = true;
        }
    }
    forget(upstream);
    forget(client);
}

}  // namespace poetryops::test
