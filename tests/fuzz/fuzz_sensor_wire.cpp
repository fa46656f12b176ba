// Every event the sensor decoder accepts must be carried to the collector:
// decode_record -> Batch -> encode_batch (agent) -> decode_batch (collector)
// must accept the batch and give the event back. A record the kernel can
// produce (argv and paths are arbitrary bytes on Linux) that the collector
// refuses loses the whole batch, alerts included.
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "fuzz_util.h"
#include "vigie/protocol/codec.h"
#include "vigie/sensor/decoder.h"

using vigie::fuzz::check;
namespace protocol = vigie::protocol;
namespace sensor = vigie::sensor;

namespace {

// Names the first field that differs, for the finding's message.
std::string difference(const protocol::Event& sent, const protocol::Event& got) {
  if (sent.time_ns != got.time_ns) return "time_ns";
  if (sent.pid != got.pid || sent.ppid != got.ppid || sent.uid != got.uid || sent.gid != got.gid)
    return "pid/ppid/uid/gid";
  if (sent.cgroup_id != got.cgroup_id) return "cgroup_id";
  if (!(sent.workload == got.workload)) return "workload";
  if (sent.body.index() != got.body.index()) return "body kind";
  if (const auto* a = std::get_if<protocol::ProcessExec>(&sent.body)) {
    const auto& b = std::get<protocol::ProcessExec>(got.body);
    if (a->image != b.image) return "exec.image";
    if (a->argv != b.argv)
      return "exec.argv (" + std::to_string(a->argv.size()) + " -> " +
             std::to_string(b.argv.size()) + " args)";
    if (a->argv_truncated != b.argv_truncated) return "exec.argv_truncated";
    if (a->command_line != b.command_line) return "exec.command_line";
    return "exec parent fields";
  }
  return "body";
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  protocol::Event event;
  if (sensor::decode_record(std::span<const uint8_t>(data, size), 0, event) !=
      sensor::DecodeError::kNone) {
    return 0;
  }
  // time_boot_ns is the kernel's boot clock: it never gets near 2^63 ns (292
  // years), which vigie.v1 refuses; the decoder's own time handling is
  // fuzz_sensor_record's business.
  if (event.time_ns > static_cast<uint64_t>(INT64_MAX)) return 0;
  protocol::Batch batch;
  batch.agent_id = "agent-node1";
  batch.site = "site-a";
  batch.host = "node1";
  batch.sequence = 1;
  event.site = batch.site;
  event.host = batch.host;
  batch.events.push_back(event);

  protocol::Batch received;
  const protocol::DecodeResult result =
      protocol::decode_batch(protocol::encode_batch(batch), received);
  if (!result.ok()) {
    check(false, "collector refuses a batch holding a decoded sensor event: " +
                     result.error().message);
  }
  check(received.events.size() == 1, "the batch lost its event on the wire");
  check(received.events[0] == event,
        "the event changed on the wire: " + difference(event, received.events[0]));
  return 0;
}
