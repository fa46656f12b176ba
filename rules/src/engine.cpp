#include "vigie/rules/engine.h"

#include "compiled_rule.h"

namespace vigie::rules {

Engine::Engine() = default;
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

void Engine::evaluate(const protocol::Event& event, std::vector<protocol::Alert>& out) const {
  const auto kind = static_cast<std::size_t>(event.kind());
  if (kind >= by_kind_.size()) return;
  for (const CompiledRule& rule : by_kind_[kind]) {
    if (!rule.matches(event)) continue;
    const RuleInfo& info = infos_[rule.info_index];
    out.push_back(protocol::Alert{info.id, info.title, info.level, info.tags, event});
  }
}

}  // namespace vigie::rules
