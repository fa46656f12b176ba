#include "vigie/sensor/decoder.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "sensor_events.h"

namespace vigie::sensor {
namespace {

using protocol::Event;

sensor_header header(uint32_t kind) {
  sensor_header h{};
  h.time_boot_ns = 5'000'000'000;
  h.cgroup_id = 4242;
  h.pid = 100;
  h.ppid = 1;
  h.uid = 1000;
  h.gid = 1001;
  h.kind = kind;
  h.login_uid = 1002;
  return h;
}

template <typename T>
std::vector<uint8_t> bytes_of(const T& value, size_t size = sizeof(T)) {
  std::vector<uint8_t> out(size);
  std::memcpy(out.data(), &value, size);
  return out;
}

// An exec record exactly as the kernel emits it: fixed part, then argv, then filename.
std::vector<uint8_t> exec_record(const std::string& args, const std::string& filename,
                                 uint32_t flags = 0) {
  sensor_exec e{};
  e.hdr = header(SENSOR_EVENT_PROCESS_EXEC);
  e.args_len = static_cast<uint32_t>(args.size());
  e.filename_len = static_cast<uint32_t>(filename.size());
  e.flags = flags;
  std::memcpy(e.data, args.data(), args.size());
  std::memcpy(e.data + args.size(), filename.data(), filename.size());
  return bytes_of(e, offsetof(sensor_exec, data) + args.size() + filename.size());
}

TEST(DecoderTest, DecodesExecWithCommonFields) {
  const std::string args("/bin/echo\0hello\0two words\0", 26);
  auto record = exec_record(args, "/bin/echo");
  Event event;
  ASSERT_EQ(decode_record(record, 1'000, event), DecodeError::kNone);
  EXPECT_EQ(event.time_ns, 5'000'001'000u);
  EXPECT_EQ(event.pid, 100u);
  EXPECT_EQ(event.ppid, 1u);
  EXPECT_EQ(event.uid, 1000u);
  EXPECT_EQ(event.gid, 1001u);
  EXPECT_EQ(event.login_uid, 1002u);
  EXPECT_EQ(event.cgroup_id, 4242u);
  ASSERT_EQ(event.kind(), protocol::EventKind::kProcessExec);
  const auto& exec = std::get<protocol::ProcessExec>(event.body);
  EXPECT_EQ(exec.image, "/bin/echo");
  EXPECT_EQ(exec.argv, (std::vector<std::string>{"/bin/echo", "hello", "two words"}));
  EXPECT_EQ(exec.command_line, "/bin/echo hello two words");
  EXPECT_FALSE(exec.argv_truncated);
}

TEST(DecoderTest, KeepsEmptyArgumentsAndCutLastArgument) {
  // "a", "", then "bc" cut by the kernel (no terminating NUL).
  const std::string args("a\0\0bc", 5);
  auto record = exec_record(args, "/x", SENSOR_EXEC_ARGV_TRUNCATED);
  Event event;
  ASSERT_EQ(decode_record(record, 0, event), DecodeError::kNone);
  const auto& exec = std::get<protocol::ProcessExec>(event.body);
  EXPECT_EQ(exec.argv, (std::vector<std::string>{"a", "", "bc"}));
  EXPECT_EQ(exec.command_line, "a  bc");
  EXPECT_TRUE(exec.argv_truncated);
}

TEST(DecoderTest, BoundsArgumentCount) {
  std::string args;
  for (int i = 0; i < SENSOR_ARGV_MAX_ARGS + 5; ++i) args += "x" + std::to_string(i) + '\0';
  auto record = exec_record(args, "/bin/true");
  Event event;
  ASSERT_EQ(decode_record(record, 0, event), DecodeError::kNone);
  const auto& exec = std::get<protocol::ProcessExec>(event.body);
  ASSERT_EQ(exec.argv.size(), static_cast<size_t>(SENSOR_ARGV_MAX_ARGS));
  EXPECT_EQ(exec.argv.back(), "x" + std::to_string(SENSOR_ARGV_MAX_ARGS - 1));
  EXPECT_TRUE(exec.argv_truncated);
}

TEST(DecoderTest, DecodesExecWithNoArguments) {
  auto record = exec_record("", "/sbin/init");
  Event event;
  ASSERT_EQ(decode_record(record, 0, event), DecodeError::kNone);
  const auto& exec = std::get<protocol::ProcessExec>(event.body);
  EXPECT_EQ(exec.image, "/sbin/init");
  EXPECT_TRUE(exec.argv.empty());
  EXPECT_EQ(exec.command_line, "");
}

TEST(DecoderTest, RejectsExecWhoseLengthsDisagreeWithTheRecord) {
  auto record = exec_record(std::string("a\0", 2), "/bin/a");
  Event event;
  auto truncated = record;
  truncated.pop_back();
  EXPECT_EQ(decode_record(truncated, 0, event), DecodeError::kBadLength);
  auto padded = record;
  padded.push_back(0);
  EXPECT_EQ(decode_record(padded, 0, event), DecodeError::kBadLength);

  sensor_exec e{};
  e.hdr = header(SENSOR_EVENT_PROCESS_EXEC);
  e.args_len = SENSOR_ARGS_MAX_BYTES + 1;  // beyond the kernel's bound
  auto oversized = bytes_of(e, offsetof(sensor_exec, data) + e.args_len);
  EXPECT_EQ(decode_record(oversized, 0, event), DecodeError::kBadLength);

  e.args_len = 0;
  e.filename_len = SENSOR_PATH_MAX_BYTES;
  auto long_name = bytes_of(e, offsetof(sensor_exec, data) + SENSOR_PATH_MAX_BYTES);
  EXPECT_EQ(decode_record(long_name, 0, event), DecodeError::kBadLength);

  auto fixed_only = bytes_of(e, offsetof(sensor_exec, data) - 1);
  EXPECT_EQ(decode_record(fixed_only, 0, event), DecodeError::kTooShort);
}

TEST(DecoderTest, DecodesExitCodeAndSignal) {
  sensor_exit e{};
  e.hdr = header(SENSOR_EVENT_PROCESS_EXIT);
  e.exit_code = 3 << 8;  // exit(3)
  Event event;
  ASSERT_EQ(decode_record(bytes_of(e), 0, event), DecodeError::kNone);
  ASSERT_EQ(event.kind(), protocol::EventKind::kProcessExit);
  EXPECT_EQ(std::get<protocol::ProcessExit>(event.body).exit_code, 3);
  EXPECT_EQ(std::get<protocol::ProcessExit>(event.body).signal, 0);

  e.exit_code = 0x80 | 11;  // SIGSEGV with core dump
  ASSERT_EQ(decode_record(bytes_of(e), 0, event), DecodeError::kNone);
  EXPECT_EQ(std::get<protocol::ProcessExit>(event.body).exit_code, 0);
  EXPECT_EQ(std::get<protocol::ProcessExit>(event.body).signal, 11);
}

TEST(DecoderTest, ExitCpuTimeIsThePreciseRuntimeSplitInTheTicksRatio) {
  sensor_exit e{};
  e.hdr = header(SENSOR_EVENT_PROCESS_EXIT);
  // A busy node: the ticks saw 44 ms of user time of the 200 ms really run.
  e.utime_ns = 44'000'000;
  e.stime_ns = 0;
  e.runtime_ns = 200'000'000;
  Event event;
  ASSERT_EQ(decode_record(bytes_of(e), 0, event), DecodeError::kNone);
  const auto& exit = std::get<protocol::ProcessExit>(event.body);
  EXPECT_EQ(exit.cpu_user_ns, 200'000'000u);
  EXPECT_EQ(exit.cpu_system_ns, 0u);

  // cputime_adjust(): system = stime * runtime / (utime + stime), user the rest.
  EXPECT_EQ(adjust_cpu_time(30, 10, 200).system_ns, 50u);
  EXPECT_EQ(adjust_cpu_time(30, 10, 200).user_ns, 150u);
  EXPECT_EQ(adjust_cpu_time(0, 8, 100).system_ns, 100u);
  EXPECT_EQ(adjust_cpu_time(7, 3, 0).user_ns, 7u);  // no precise time: the samples
  EXPECT_EQ(adjust_cpu_time(7, 3, 0).system_ns, 3u);
  // No overflow with a year of CPU time on each side.
  const uint64_t year = 365ull * 24 * 3600 * 1'000'000'000ull;
  EXPECT_EQ(adjust_cpu_time(year, year, 2 * year).system_ns, year);
}

TEST(DecoderTest, RejectsTimesBeyondWhatTheWireHolds) {
  sensor_exit e{};
  e.hdr = header(SENSOR_EVENT_PROCESS_EXIT);
  Event event;
  ASSERT_EQ(decode_record(bytes_of(e), 0, event), DecodeError::kNone);
  e.hdr.time_boot_ns = uint64_t{1} << 63;
  EXPECT_EQ(decode_record(bytes_of(e), 0, event), DecodeError::kBadTime);
  e.hdr = header(SENSOR_EVENT_PROCESS_EXIT);
  e.hdr.start_boot_ns = ~uint64_t{0};
  EXPECT_EQ(decode_record(bytes_of(e), 0, event), DecodeError::kBadTime);
  e.hdr = header(SENSOR_EVENT_PROCESS_EXIT);
  e.utime_ns = ~uint64_t{0};
  EXPECT_EQ(decode_record(bytes_of(e), 0, event), DecodeError::kBadTime);
  e.utime_ns = 0;
  e.runtime_ns = ~uint64_t{0};
  EXPECT_EQ(decode_record(bytes_of(e), 0, event), DecodeError::kBadTime);
  EXPECT_EQ(to_string(DecodeError::kBadTime), "bad_time");
}

sensor_connect connect_record(uint16_t family, uint8_t transport) {
  sensor_connect c{};
  c.hdr = header(SENSOR_EVENT_NETWORK_CONNECT);
  c.family = family;
  c.transport = transport;
  c.port = htons(8443);
  return c;
}

TEST(DecoderTest, DecodesIpv4AndIpv6Connect) {
  auto c = connect_record(SENSOR_AF_INET, SENSOR_TRANSPORT_TCP);
  inet_pton(AF_INET, "10.1.2.3", c.addr);
  Event event;
  ASSERT_EQ(decode_record(bytes_of(c), 0, event), DecodeError::kNone);
  ASSERT_EQ(event.kind(), protocol::EventKind::kNetworkConnect);
  auto connect = std::get<protocol::NetworkConnect>(event.body);
  EXPECT_EQ(connect.transport, protocol::Transport::kTcp);
  EXPECT_FALSE(connect.ipv6);
  EXPECT_EQ(connect.destination_ip, "10.1.2.3");
  EXPECT_EQ(connect.destination_port, 8443);

  c = connect_record(SENSOR_AF_INET6, SENSOR_TRANSPORT_UDP);
  inet_pton(AF_INET6, "2001:db8::1", c.addr);
  ASSERT_EQ(decode_record(bytes_of(c), 0, event), DecodeError::kNone);
  connect = std::get<protocol::NetworkConnect>(event.body);
  EXPECT_EQ(connect.transport, protocol::Transport::kUdp);
  EXPECT_TRUE(connect.ipv6);
  EXPECT_EQ(connect.destination_ip, "2001:db8::1");
}

TEST(DecoderTest, RejectsMalformedFixedSizeRecords) {
  Event event;
  EXPECT_EQ(decode_record({}, 0, event), DecodeError::kTooShort);
  auto h = bytes_of(header(SENSOR_EVENT_PROCESS_EXIT));
  EXPECT_EQ(decode_record(h, 0, event), DecodeError::kTooShort);
  EXPECT_EQ(decode_record(std::span(h).first(sizeof(sensor_header) - 1), 0, event),
            DecodeError::kTooShort);
  EXPECT_EQ(decode_record(bytes_of(header(42)), 0, event), DecodeError::kUnknownKind);

  sensor_exit exit{};
  exit.hdr = header(SENSOR_EVENT_PROCESS_EXIT);
  auto long_exit = bytes_of(exit);
  long_exit.resize(long_exit.size() + 8);
  EXPECT_EQ(decode_record(long_exit, 0, event), DecodeError::kBadLength);

  auto unix_connect = connect_record(1 /* AF_UNIX */, SENSOR_TRANSPORT_TCP);
  EXPECT_EQ(decode_record(bytes_of(unix_connect), 0, event), DecodeError::kBadFamily);
  auto raw = connect_record(SENSOR_AF_INET, 9);
  EXPECT_EQ(decode_record(bytes_of(raw), 0, event), DecodeError::kBadTransport);
  auto short_connect = bytes_of(connect_record(SENSOR_AF_INET, SENSOR_TRANSPORT_TCP));
  short_connect.pop_back();
  EXPECT_EQ(decode_record(short_connect, 0, event), DecodeError::kTooShort);
}

TEST(DecoderTest, BootToWallOffsetGivesWallClock) {
  timespec boot{}, real{};
  clock_gettime(CLOCK_BOOTTIME, &boot);
  clock_gettime(CLOCK_REALTIME, &real);
  const int64_t boot_ns = boot.tv_sec * 1'000'000'000LL + boot.tv_nsec;
  const int64_t real_ns = real.tv_sec * 1'000'000'000LL + real.tv_nsec;
  const int64_t wall = boot_ns + boot_to_wall_offset_ns();
  EXPECT_LT(std::llabs(wall - real_ns), 1'000'000'000LL);
}

}  // namespace
}  // namespace vigie::sensor
