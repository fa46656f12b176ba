// A Sigma `condition` compiled into a flat expression tree over search identifiers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigie::rules {

class Condition {
 public:
  // Parses the rules specification §Condition grammar: `or` < `and` < `not` <
  // `1 of` / `all of` (pattern with `*`, or `them`: every identifier not starting
  // with `_`) < parentheses. Several texts (a condition list) are OR'ed.
  // `identifiers` are the detection's search identifiers; the tree refers to
  // them by index. On error returns nullopt and sets `error`.
  static std::optional<Condition> parse(std::span<const std::string> texts,
                                        std::span<const std::string> identifiers,
                                        std::string& error);

  // `selection(i)` tells whether search identifier i matches.
  template <typename SelectionFn>
  bool evaluate(const SelectionFn& selection) const {
    return evaluate(root_, selection);
  }

 private:
  friend class ConditionParser;
  struct Node {
    enum class Op : uint8_t { kSelection, kNot, kAnd, kOr };
    Op op;
    uint32_t first;  // kSelection: identifier index; kNot: child node; kAnd/kOr: into children_
    uint32_t count;  // kAnd/kOr: number of children
  };

  template <typename SelectionFn>
  bool evaluate(uint32_t index, const SelectionFn& selection) const {
    const Node& node = nodes_[index];
    switch (node.op) {
      case Node::Op::kSelection:
        return selection(node.first);
      case Node::Op::kNot:
        return !evaluate(node.first, selection);
      case Node::Op::kAnd:
        for (uint32_t i = 0; i < node.count; ++i) {
          if (!evaluate(children_[node.first + i], selection)) return false;
        }
        return true;
      case Node::Op::kOr:
        for (uint32_t i = 0; i < node.count; ++i) {
          if (evaluate(children_[node.first + i], selection)) return true;
        }
        return false;
    }
    return false;
  }

  std::vector<Node> nodes_;
  std::vector<uint32_t> children_;
  uint32_t root_ = 0;
};

}  // namespace vigie::rules
