/* A stand-in for libnvidia-ml.so.1 exporting the NVML symbols vigie::power
 * uses, with the real signatures (NVML Reference Manual). Its GPUs are read
 * from the file named by $FAKE_NVML_STATE at every call, one GPU per line:
 *   <energy_mJ or -> <power_mW> [<pid>:<used_bytes>]...
 * "-" makes nvmlDeviceGetTotalEnergyConsumption return NOT_SUPPORTED. A first
 * line "init_error" makes nvmlInit_v2 fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st* nvmlDevice_t;
typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
} nvmlProcessInfo_t;

enum { kMaxGpus = 8, kMaxProcs = 16 };
struct gpu {
  int has_energy;
  unsigned long long energy_mj;
  unsigned int power_mw;
  unsigned int nprocs;
  nvmlProcessInfo_t procs[kMaxProcs];
};
static struct gpu gpus[kMaxGpus];
static unsigned int ngpus;
static int init_error;

static void load(void) {
  const char* path = getenv("FAKE_NVML_STATE");
  FILE* f = path ? fopen(path, "r") : NULL;
  ngpus = 0;
  init_error = 0;
  if (!f) return;
  char line[1024];
  while (ngpus < kMaxGpus && fgets(line, sizeof line, f)) {
    if (strncmp(line, "init_error", 10) == 0) {
      init_error = 1;
      continue;
    }
    struct gpu* g = &gpus[ngpus];
    memset(g, 0, sizeof *g);
    char* save = NULL;
    char* tok = strtok_r(line, " \n", &save);
    if (!tok) continue;
    g->has_energy = strcmp(tok, "-") != 0;
    g->energy_mj = strtoull(tok, NULL, 10);
    tok = strtok_r(NULL, " \n", &save);
    g->power_mw = tok ? (unsigned)strtoul(tok, NULL, 10) : 0;
    while ((tok = strtok_r(NULL, " \n", &save)) && g->nprocs < kMaxProcs) {
      g->procs[g->nprocs].pid = (unsigned)strtoul(tok, NULL, 10);
      char* colon = strchr(tok, ':');
      g->procs[g->nprocs].usedGpuMemory = colon ? strtoull(colon + 1, NULL, 10) : ~0ULL;
      g->nprocs++;
    }
    ngpus++;
  }
  fclose(f);
}

static struct gpu* device(nvmlDevice_t d) {
  size_t i = (size_t)d - 1;
  return i < ngpus ? &gpus[i] : NULL;
}

nvmlReturn_t nvmlInit_v2(void) {
  load();
  return init_error ? 9 /* NVML_ERROR_DRIVER_NOT_LOADED */ : 0;
}
nvmlReturn_t nvmlShutdown(void) { return 0; }
const char* nvmlErrorString(nvmlReturn_t r) {
  return r == 9 ? "Driver Not Loaded" : r == 3 ? "Not Supported" : "Unknown Error";
}
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  *count = ngpus;
  return 0;
}
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* d) {
  if (index >= ngpus) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
  *d = (nvmlDevice_t)(size_t)(index + 1);
  return 0;
}
nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long* mj) {
  load();
  struct gpu* g = device(d);
  if (!g) return 2;
  if (!g->has_energy) return 3; /* NVML_ERROR_NOT_SUPPORTED */
  *mj = g->energy_mj;
  return 0;
}
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int* mw) {
  load();
  struct gpu* g = device(d);
  if (!g) return 2;
  *mw = g->power_mw;
  return 0;
}
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int* count,
                                                     nvmlProcessInfo_t* infos) {
  struct gpu* g = device(d);
  if (!g) return 2;
  if (*count < g->nprocs) {
    *count = g->nprocs;
    return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
  }
  *count = g->nprocs;
  memcpy(infos, g->procs, g->nprocs * sizeof *infos);
  return 0;
}
