// A throwaway PKI for TLS tests, made with the OpenSSL API at test time: a
// CA, and certificates it signs for 127.0.0.1/localhost (server) or a client
// (mTLS), valid now, expired or for another name. Keys are P-256 (ECDSA).
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace vigie::collector::testing {

struct Pkey {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
};
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// A certificate and its key, written as PEM files.
struct CertFiles {
  std::string cert;  // PEM certificate
  std::string key;   // PEM private key
};

class TestPki {
 public:
  // Makes a CA named `ca_name` and writes it to `dir`/<ca_name>.pem.
  TestPki(std::filesystem::path dir, const std::string& ca_name = "Vigie Test CA")
      : dir_(std::move(dir)), ca_key_(make_key()), ca_cert_(nullptr, X509_free) {
    ca_cert_ =
        make_cert(ca_name, ca_key_.key.get(), nullptr, nullptr, {}, -3600, 86400, true, false);
    ca_file_ = (dir_ / (file_name(ca_name) + ".pem")).string();
    write_cert(ca_file_, ca_cert_.get());
  }

  const std::string& ca_file() const { return ca_file_; }

  // A server certificate for `sans` ("IP:127.0.0.1", "DNS:localhost"),
  // valid from now + not_before_s to now + not_after_s (seconds).
  CertFiles issue(const std::string& name, const std::vector<std::string>& sans,
                  long not_before_s = -3600, long not_after_s = 86400, bool client = false) {
    Pkey key = make_key();
    X509Ptr cert = make_cert(name, key.key.get(), ca_cert_.get(), ca_key_.key.get(), sans,
                             not_before_s, not_after_s, false, client);
    CertFiles files{(dir_ / (file_name(name) + ".pem")).string(),
                    (dir_ / (file_name(name) + ".key")).string()};
    write_cert(files.cert, cert.get());
    FILE* out = std::fopen(files.key.c_str(), "w");
    if (out == nullptr ||
        PEM_write_PrivateKey(out, key.key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      throw std::runtime_error("cannot write " + files.key);
    std::fclose(out);
    return files;
  }

  CertFiles server(const std::string& name = "server") {
    return issue(name, {"IP:127.0.0.1", "DNS:localhost"});
  }
  CertFiles client(const std::string& name = "client") {
    return issue(name, {"DNS:" + name}, -3600, 86400, true);
  }

 private:
  static std::string file_name(std::string name) {
    for (char& c : name)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return name;
  }

  static Pkey make_key() {
    Pkey key;
    key.key.reset(EVP_EC_gen("P-256"));
    if (!key.key) throw std::runtime_error("EVP_EC_gen failed");
    return key;
  }

  static void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) throw std::runtime_error("bad extension " + value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }

  X509Ptr make_cert(const std::string& name, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                    const std::vector<std::string>& sans, long not_before_s, long not_after_s,
                    bool ca, bool client) {
    X509Ptr cert(X509_new(), X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after_s);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* subject = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : subject);
    if (ca) {
      add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
      add_extension(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
      add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
      add_extension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature");
      add_extension(cert.get(), issuer, NID_ext_key_usage, client ? "clientAuth" : "serverAuth");
    }
    std::string san;
    for (const auto& entry : sans) san += (san.empty() ? "" : ",") + entry;
    if (!san.empty()) add_extension(cert.get(), issuer, NID_subject_alt_name, san);
    if (X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0)
      throw std::runtime_error("X509_sign failed");
    return cert;
  }

  static void write_cert(const std::string& path, X509* cert) {
    FILE* out = std::fopen(path.c_str(), "w");
    if (out == nullptr || PEM_write_X509(out, cert) != 1)
      throw std::runtime_error("cannot write " + path);
    std::fclose(out);
  }

  std::filesystem::path dir_;
  Pkey ca_key_;
  X509Ptr ca_cert_;
  std::string ca_file_;
  long serial_ = 0;
};

}  // namespace vigie::collector::testing
