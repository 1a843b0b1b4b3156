#include <poetryops/controller/admission.hpp>

#include <poetryops/api/admission.hpp>
#include <poetryops/http/url.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

namespace poetryops::controller {

http::Response handle_admission(const http::Request& request) {
    const std::string path = http::split_target(request.url).first;
    if (path == "/healthz") return http::Response::make(200, "ok\n");
    if (path != api::kApprovalAdmissionPath) return http::Response::make(404, "not found\n");
    if (request.method != "POST") return http::Response::make(405, "POST only\n");
    auto decided = api::review_approval_admission(request.body);
    if (!decided) {
        POETRYOPS_LOG(warn, "admission request not understood",
                      {{"remote", request.remote}, {"error", decided.error().message}});
        return http::Response::make(400, decided.error().message + "\n");
    }
    const api::ApprovalAdmission& d = *decided;
    POETRYOPS_LOG(info, "PoetryApproval admission",
                  {{"uid", d.uid},
                   {"approver", d.approver},
                   {"allowed", d.allowed ? "true" : "false"},
                   {"message", d.message}});
    return http::Response::make(200, api::admission_review_response(d).dump(), "application/json");
}

Result<std::unique_ptr<AdmissionServer>> AdmissionServer::start(const AdmissionOptions& options) {
    const std::string flag = "--admission-bind-address " + options.address;
    auto colon = options.address.rfind(':');
    const std::string port_text =
        colon == std::string::npos ? std::string() : options.address.substr(colon + 1);
    if (port_text != "0" && !str::is_port(port_text))  // 0: any free port (tests)
        return fail(Error::Kind::invalid, flag + ": expected HOST:PORT or :PORT");
    const bool files = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
    const bool pem = !options.tls_cert_pem.empty() || !options.tls_key_pem.empty();
    if (!pem && (options.tls_cert_file.empty() || options.tls_key_file.empty())) {
        return fail(Error::Kind::invalid,
                    flag +
                        " needs --admission-tls-cert-file and --admission-tls-key-file: the API "
                        "server calls admission webhooks over HTTPS only");
    }
    http::ServerOptions so;
    std::string host = options.address.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    so.address = host.empty() ? "0.0.0.0" : host;
    so.port = static_cast<std::uint16_t>(std::stoul(port_text));
    so.max_body_bytes = api::kAdmissionMaxBodyBytes;
    so.max_header_bytes = 16u << 10;
    // The API server waits timeoutSeconds (the chart: 10 s) for an answer; a slow request is not
    // worth more.
    so.read_timeout = std::chrono::seconds(10);
    so.write_timeout = std::chrono::seconds(10);
    so.worker_threads = 2;
    if (files) {
        so.tls_cert_file = options.tls_cert_file;
        so.tls_key_file = options.tls_key_file;
    } else {
        so.tls_cert_pem = options.tls_cert_pem;
        so.tls_key_pem = options.tls_key_pem;
    }
    std::unique_ptr<AdmissionServer> s(new AdmissionServer());
    s->options_ = options;
    const std::string loaded = files ? s->fingerprint() : std::string();
    auto port = s->server_.start(so, [](const http::Request& r) { return handle_admission(r); });
    if (!port) {
        Error e = port.error();
        e.message = flag + ": " + e.message;
        return fail(std::move(e));
    }
    POETRYOPS_LOG(info, "serving the PoetryApproval admission webhook",
                  {{"address", so.address + ":" + std::to_string(*port)},
                   {"path", std::string(api::kApprovalAdmissionPath)}});
    if (files && options.reload_interval.count() > 0) {
        AdmissionServer* self = s.get();
        s->watcher_ = std::thread([self, loaded] {
            std::string last = loaded;
            std::unique_lock lock(self->mu_);
            while (!self->cv_.wait_for(lock, self->options_.reload_interval,
                                       [self] { return self->stopping_; })) {
                lock.unlock();
                std::string now = self->fingerprint();
                if (!now.empty() && now != last) {
                    auto r = self->server_.reload_tls();
                    if (r) {
                        last = now;
                        ++self->reloads_;
                        POETRYOPS_LOG(info, "admission webhook certificate reloaded",
                                      {{"file", self->options_.tls_cert_file}});
                    } else {
                        // Half-written (the certificate renewed, the key not yet): next round.
                        POETRYOPS_LOG(warn, "admission webhook certificate not reloaded",
                                      {{"error", r.error().message}});
                    }
                }
                lock.lock();
            }
        });
    }
    return s;
}

void AdmissionServer::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    server_.stop();
}

std::string AdmissionServer::fingerprint() const {
    auto cert = read_file(options_.tls_cert_file);
    auto key = read_file(options_.tls_key_file);
    if (!cert || !key) return {};
    return str::sha256_hex(*cert + "\n" + *key);
}

}  // namespace poetryops::controller
