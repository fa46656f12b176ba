// vigie.v1 batch codec: Batch <-> protobuf <-> zstd frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "vigie/protocol/event.h"
#include "vigie/protocol/result.h"

namespace vigie::protocol {

inline constexpr std::string_view kContentType = "application/x-protobuf";
inline constexpr std::string_view kContentEncoding = "zstd";
// Upper bound on a decompressed batch; larger frames are refused, never
// allocated (a zstd bomb must not take the collector down).
inline constexpr std::size_t kMaxDecodedBatchBytes = 64u << 20;
// Upper bounds on what a batch holds, counted on the wire before parsing: a
// protobuf record can be a few bytes (an empty event is 5) yet cost hundreds
// once parsed, so 64 MiB of them would be gigabytes. Records: events, energy
// records, alerts and workload ends (100x an agent's default batch of 1000
// events). Elements: protobuf field occurrences at any depth, packed values
// included (an exec event with its ancestry is about 60).
inline constexpr std::size_t kMaxBatchRecords = 100'000;
inline constexpr std::size_t kMaxBatchElements = 1'000'000;

// Serialises `batch` as a vigie.v1.Batch message and compresses it with zstd
// at `level` (1..19). Never fails for a valid Batch.
std::string encode_batch(const Batch& batch, int level = 3);

enum class DecodeError : uint8_t {
  kNotZstd,      // the body is not a zstd frame
  kTooLarge,     // decompressed size exceeds max_decoded_bytes, or more than
                 // kMaxBatchRecords records or kMaxBatchElements fields
  kCorrupt,      // the zstd frame is damaged
  kBadProtobuf,  // the payload is not a vigie.v1.Batch
  kInvalid,      // well-formed but violates the schema's rules (see message)
};

struct DecodeFailure {
  DecodeError code;
  std::string message;  // human-readable, safe to return to the client
};

// The size of the decompressed payload in bytes, or why the body was refused.
using DecodeResult = Result<std::size_t, DecodeFailure>;

// Decompresses and parses `body` (one zstd frame, nothing after it) into
// `out`. Validation: agent_id and host non-empty; sequence in [1, 2^63);
// times below 2^63 ns; every event has a body; energy intervals have
// start_ns <= end_ns; joules, CPU seconds and grams are finite and >= 0.
// Text fields may hold any bytes (not only UTF-8). On error `out` is
// unspecified and the result says why.
DecodeResult decode_batch(std::string_view body, Batch& out,
                          std::size_t max_decoded_bytes = kMaxDecodedBatchBytes);

}  // namespace vigie::protocol
