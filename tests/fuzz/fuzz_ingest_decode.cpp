// Fuzzes the collector's ingest decoder (protocol::decode_batch): the request
// body of POST /api/v1/ingest comes straight from the network.
//
// Input: the body as is (a zstd frame, or anything), or 'P' followed by a raw
// vigie.v1.Batch payload that the target compresses first, so that mutations
// reach the protobuf and validation layers instead of dying in zstd's checks.
// Properties: never crashes; an accepted batch meets the documented
// validation and bounds (decoded size, records), and is refused under a
// smaller max_decoded_bytes exactly when it is larger; decode(encode(b))
// accepts b again and encodes it to the same bytes.
#include <google/protobuf/stubs/logging.h>
#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "vigie/protocol/codec.h"

using vigie::fuzz::check;
namespace protocol = vigie::protocol;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Invalid UTF-8 in a string field makes protobuf log one line per input.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string body;
  if (!input.empty() && input[0] == 'P') {
    const std::string_view payload = input.substr(1);
    body.resize(ZSTD_compressBound(payload.size()));
    const size_t n = ZSTD_compress(body.data(), body.size(), payload.data(), payload.size(), 1);
    check(!ZSTD_isError(n), "ZSTD_compress failed");
    body.resize(n);
  } else {
    body.assign(input);
  }

  // A tight bound on the decompressed size takes the refusal paths of both
  // zstd decoders (declared size and streamed).
  protocol::Batch bounded;
  const protocol::DecodeResult tight = protocol::decode_batch(body, bounded, 256);
  check(!tight.ok() || *tight <= 256, "decoded past max_decoded_bytes");

  protocol::Batch batch;
  const protocol::DecodeResult result = protocol::decode_batch(body, batch);
  if (!result.ok()) {
    check(!result.error().message.empty(), "decode error without a message");
    return 0;
  }
  check(!batch.agent_id.empty() && !batch.host.empty() && batch.sequence >= 1,
        "accepted batch violates agent_id/host/sequence validation");
  check(*result <= protocol::kMaxDecodedBatchBytes, "decoded_bytes above the bound");
  check(batch.events.size() + batch.zone_energy.size() + batch.workload_energy.size() +
                batch.alerts.size() + batch.workload_ends.size() <=
            protocol::kMaxBatchRecords,
        "accepted a batch over kMaxBatchRecords");
  check(tight.ok() == (*result <= 256), "max_decoded_bytes refused a smaller batch");

  // Whatever the collector accepted must survive a re-encode (the collector and
  // tests rely on encode_batch for valid batches). Compare encodings, not Batch
  // values: NaN energies are accepted and never compare equal.
  const std::string once = protocol::encode_batch(batch, 1);
  check(!once.empty(), "encode_batch failed on an accepted batch");
  protocol::Batch again;
  const protocol::DecodeResult second = protocol::decode_batch(once, again);
  if (!second.ok()) check(false, "re-encoded accepted batch rejected: " + second.error().message);
  check(protocol::encode_batch(again, 1) == once, "decode(encode(batch)) is not stable");
  return 0;
}
