// Chat templates for chat datasets: how a list of messages becomes text, cut into segments that
// say whether the loss applies, so that the loss mask stays exact after tokenization.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace gradients::text {

struct ChatMessage {
  std::string role;  // system, user or assistant
  std::string content;
};

// Reads a list of messages: a JSON array of {"role": ..., "content": ...} objects, or a string
// holding such an array as JSON (how a CSV cell carries it). Other keys of a message are ignored.
// Errors say what is wrong and where: `message 2: unknown role "bot" (allowed: system, user,
// assistant)`, `message 1: "content": expected a string, got null`, `the list of messages is empty`.
common::Result<std::vector<ChatMessage>> ParseChatMessages(const nlohmann::json& value);

// A piece of a templated conversation.
struct ChatSegment {
  std::string text;
  bool is_special_token = false;  // one id when the tokenizer knows the token (TokenToId), else encoded as text
  bool trained = false;           // the loss applies to its tokens
};

// A template where every turn reads <turn_start>{role}<after_role>{content}<turn_end><after_turn>.
// The loss applies to an assistant turn's content and its turn_end, which is what teaches the
// model to stop; never to the header (turn_start, role, after_role) nor to after_turn.
struct ChatTemplate {
  std::string_view name;
  std::string_view turn_start;  // a special token
  std::string_view after_role;
  std::string_view turn_end;  // a special token
  std::string_view after_turn;
};

// Known templates: "chatml" (<|im_start|>{role}\n{content}<|im_end|>\n, as Qwen2 uses, without
// a default system message).
common::Result<ChatTemplate> FindChatTemplate(std::string_view name);

// The conversation as segments in order; empty texts are left out.
std::vector<ChatSegment> RenderChat(const ChatTemplate& chat_template, std::span<const ChatMessage> messages);

}  // namespace gradients::text
