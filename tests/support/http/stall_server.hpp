#pragma once
// A TCP listener on 127.0.0.1 that never accepts: the kernel completes connections into the
// backlog, so a client's connect succeeds but nothing is ever answered (the "server that stalls" of
// the timeout tests).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace poetryops::test {

class StallServer {
public:
    StallServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error("socket failed");
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        socklen_t len = sizeof addr;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(fd_, 16) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            ::close(fd_);
            throw std::runtime_error("bind/listen failed");
        }
        port_ = ntohs(addr.sin_port);
    }
    ~StallServer() { ::close(fd_); }
    StallServer(const StallServer&) = delete;
    StallServer& operator=(const StallServer&) = delete;
    int port() const { return port_; }

private:
    int fd_ = -1;
    int port_ = 0;
};

}  // namespace poetryops::test
