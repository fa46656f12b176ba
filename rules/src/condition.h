// A Sigma `condition` compiled into a flat expression tree over search identifiers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/protocol/result.h"

namespace vigie::rules {

class Condition {
 public:
  // Parses the rules specification §Condition grammar: `or` < `and` < `not` <
  // `1 of` / `all of` (pattern with `*`, or `them`: every identifier not starting
  // with `_`) < parentheses. Several texts (a condition list) are OR'ed.
  // `identifiers` are the detection's search identifiers; the tree refers to
  // them by index. Fails saying what is wrong and where in the text.
  static protocol::Result<Condition> parse(std::span<const std::string> texts,
                                           std::span<const std::string> identifiers);

  // `selection(i)` tells whether search identifier i matches.
  template <typename SelectionFn>
  bool evaluate(const SelectionFn& selection) const {
    return evaluate(root_, selection);
  }

  // Something every match needs, folded over the tree: `leaf(i)` gives what
  // selection i needs (nullopt: nothing known). An `or` needs the union of its
  // children's needs (all must be known), an `and` the need of one child, the
  // one `better(a, b)` prefers, a `not` nothing. Used for the literal prefilter.
  template <typename Set, typename LeafFn, typename BetterFn>
  std::optional<Set> required(const LeafFn& leaf, const BetterFn& better) const {
    return required<Set>(root_, leaf, better);
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

  template <typename Set, typename LeafFn, typename BetterFn>
  std::optional<Set> required(uint32_t index, const LeafFn& leaf, const BetterFn& better) const {
    const Node& node = nodes_[index];
    switch (node.op) {
      case Node::Op::kSelection:
        return leaf(node.first);
      case Node::Op::kNot:
        return std::nullopt;
      case Node::Op::kAnd: {
        std::optional<Set> best;
        for (uint32_t i = 0; i < node.count; ++i) {
          auto child = required<Set>(children_[node.first + i], leaf, better);
          if (child && (!best || better(*child, *best))) best = std::move(child);
        }
        return best;
      }
      case Node::Op::kOr: {
        Set all;
        for (uint32_t i = 0; i < node.count; ++i) {
          auto child = required<Set>(children_[node.first + i], leaf, better);
          if (!child) return std::nullopt;
          all.insert(all.end(), child->begin(), child->end());
        }
        return all;
      }
    }
    return std::nullopt;
  }

  std::vector<Node> nodes_;
  std::vector<uint32_t> children_;
  uint32_t root_ = 0;
};

}  // namespace vigie::rules
