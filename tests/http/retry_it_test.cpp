// Keep-alive reuse failures: a reused connection that the server drops is retried once on a fresh
// connection, for idempotent methods and requests marked safe to retry only.
#include <poetryops/http/client.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

namespace poetryops::http {
namespace {

/// A raw HTTP/1.1 server: on each connection it answers the first request with keep-alive and then
/// reads the second request and closes without answering (what a server does when its idle timeout
/// races a new request).
class DroppingServer {
public:
    DroppingServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(::listen(fd_, 8), 0);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { loop(); });
    }
    ~DroppingServer() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    int port() const { return port_; }
    int accepted() const { return accepted_; }
    int answered() const { return answered_; }

private:
    bool wait_readable(int fd) {
        pollfd p{fd, POLLIN, 0};
        while (!stop_) {
            if (::poll(&p, 1, 50) > 0) return true;
        }
        return false;
    }
    /// Reads one request (headers and a Content-Length body). False on EOF/stop.
    bool read_request(int c) {
        std::string data;
        char buf[4096];
        for (;;) {
            auto end = data.find("\r\n\r\n");
            if (end != std::string::npos) {
                std::size_t length = 0;
                auto cl = data.find("Content-Length: ");
                if (cl != std::string::npos) length = std::stoul(data.substr(cl + 16));
                if (data.size() >= end + 4 + length) return true;
            }
            if (!wait_readable(c)) return false;
            ssize_t n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0) return false;
            data.append(buf, static_cast<std::size_t>(n));
        }
    }
    void loop() {
        while (wait_readable(fd_)) {
            int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            ++accepted_;
            if (read_request(c)) {
                static const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                ::send(c, kOk.data(), kOk.size(), MSG_NOSIGNAL);
                ++answered_;
                read_request(c);  // the next request on this connection is dropped
            }
            ::close(c);
        }
    }

    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::atomic<int> answered_{0};
    std::thread thread_;
};

TEST(HttpRetry, IdempotentRequestIsRetriedOnceOnAFreshConnection) {
    DroppingServer server;
    auto client = Client::create({}).value();
    std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
    auto first = client->request({.url = url});
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(first->body, "ok");
    // reused conn dropped → retry
    auto second = client->request({.method = "PUT", .url = url, .body = "x"});
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_EQ(second->body, "ok");
    EXPECT_EQ(server.accepted(), 2);
    EXPECT_EQ(client->connections_opened(), 2u);
}

TEST(HttpRetry, NonIdempotentRequestIsNotRetried) {
    DroppingServer server;
    auto client = Client::create({}).value();
    std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
    ASSERT_TRUE(client->request({.url = url}));
    auto post = client->request({.method = "POST", .url = url, .body = "{}"});
    ASSERT_FALSE(post);
    EXPECT_EQ(post.error().kind, Error::Kind::transport);
    EXPECT_EQ(server.accepted(), 1);
    EXPECT_EQ(server.answered(), 1);
    // The client recovers on the next request with a new connection.
    auto again = client->request({.method = "POST", .url = url, .body = "{}"});
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(server.accepted(), 2);
}

TEST(HttpRetry, APostMarkedSafeToRetryIsRetriedLikeAnIdempotentOne) {
    // A git upload-pack POST only reads: lighttpd closing the pooled connection after its 5 s idle
    // timeout must not fail it (which paused the in-process git path for a minute).
    DroppingServer server;
    auto client = Client::create({}).value();
    std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
    ASSERT_TRUE(client->request({.url = url}));
    auto post =
        client->request({.method = "POST", .url = url, .body = "0000", .safe_to_retry = true});
    ASSERT_TRUE(post) << post.error().message;
    EXPECT_EQ(post->body, "ok");
    EXPECT_EQ(server.accepted(), 2);
}

}  // namespace
}  // namespace poetryops::http
