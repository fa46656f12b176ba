// Fuzzes the collector configuration loader (collector::load_config), which
// reads a file: each input is written to a private temporary file first.
// Contract: bad input throws std::runtime_error; any other exception, a crash
// or undefined behaviour is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include "fuzz_util.h"
#include "vigie/collector/config.h"

using vigie::fuzz::check;
using vigie::fuzz::finding;

namespace {

std::string config_path;
std::string config_dir;

void remove_temp_dir() {
  ::unlink(config_path.c_str());
  ::rmdir(config_dir.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/vigie-fuzz-collector-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  config_dir = templ;
  config_path = config_dir + "/vigie-collector.yaml";
  std::atexit(remove_temp_dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::FILE* f = std::fopen(config_path.c_str(), "wb");
    check(f != nullptr, "cannot create " + config_path);
    check(std::fwrite(data, 1, size, f) == size, "cannot write " + config_path);
    std::fclose(f);
  }
  try {
    const vigie::collector::Config c = vigie::collector::load_config(config_path);
    // What load_config promises to enforce.
    check(c.body_limit_bytes > 0 && c.header_limit_bytes >= 1024, "limits out of range");
    check(c.read_timeout.count() > 0 && c.idle_timeout.count() > 0, "timeouts out of range");
    check(c.threads >= 1 && c.threads <= 256, "threads out of range");
  } catch (const std::runtime_error&) {
    // The documented way to refuse a configuration.
  } catch (const std::exception& e) {
    finding(std::string("load_config threw a non-runtime_error: ") + e.what());
  } catch (...) {
    finding("load_config threw a non-std exception");
  }
  return 0;
}
