#!/usr/bin/env python3
"""Write the non-streaming response golden inputs under
tests/data/translate/response/ (openai.json, and error.json for failures).
The expected anthropic.json files are written by hand-checked runs of
test_response with CCP_GOLDEN_UPDATE=1 and reviewed. Run from the top."""
import json, os
base = 'tests/data/translate/response'
def comp(msg, finish="stop", usage=None, raw=None):
    c = {"id": "chatcmpl-r1", "object": "chat.completion", "created": 1700000000, "model": "gpt-big",
         "choices": [{"index": 0, "message": msg, "logprobs": None, "finish_reason": finish}]}
    if usage is not None:
        c["usage"] = usage
    return c
def case(name, body, error=None, info=None):
    d = os.path.join(base, name); os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'openai.json'), 'w') as f:
        f.write(body if isinstance(body, str) else json.dumps(body, indent=1, ensure_ascii=False))
    if error:
        json.dump(error, open(os.path.join(d, 'error.json'), 'w'), indent=1)
    if info:
        json.dump(info, open(os.path.join(d, 'info.json'), 'w'), indent=1)
U = {"prompt_tokens": 25, "completion_tokens": 12, "total_tokens": 37}
case("001-text", comp({"role": "assistant", "content": "Hi there! This is the proxy.", "refusal": None}, usage=U))
case("002-tool-calls", comp({"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\",\"description\":\"List\"}"}},
    {"id": "call_2", "type": "function", "function": {"name": "Read", "arguments": "{\"file_path\":\"/tmp/a\"}"}}]},
    "tool_calls", U))
case("003-text-and-tool", comp({"role": "assistant", "content": "Let me look.", "tool_calls": [
    {"id": "call_3", "type": "function", "function": {"name": "Glob", "arguments": "{\"pattern\":\"*.c\"}"}}]}, "tool_calls", U))
case("004-reasoning", comp({"role": "assistant", "content": "42.", "reasoning_content": "Compute 6*7."}, "stop",
    {"prompt_tokens": 3000, "completion_tokens": 40, "total_tokens": 3040, "prompt_tokens_details": {"cached_tokens": 2048}}),
    info={"client_model": "claude-opus-5-5"})
case("005-length", comp({"role": "assistant", "content": "This is cut"}, "length", U))
case("006-content-filter", comp({"role": "assistant", "content": ""}, "content_filter", U))
case("007-bad-arguments", comp({"role": "assistant", "content": "", "tool_calls": [
    {"id": "call_4", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\": \"ls"}},
    {"id": "call_5", "type": "function", "function": {"name": "TodoRead", "arguments": ""}},
    {"id": "call_6", "type": "function", "function": {"name": "Bash", "arguments": "\"{\\\"command\\\":\\\"pwd\\\"}\""}},
    {"type": "function", "function": {"name": "Read", "arguments": "[1,2]"}}]}, "tool_calls"))
case("008-null-content-no-usage", comp({"role": "assistant", "content": None}, None))
case("009-refusal", comp({"role": "assistant", "content": None, "refusal": "I can't help with that."}, "stop", U))
case("010-tools-finish-stop", comp({"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_7", "type": "function", "function": {"name": "Read", "arguments": "{\"file_path\":\"x\"}"}}]}, "stop", U))
case("011-reasoning-field-deepseek-cache", comp({"role": "assistant", "content": "Yes", "reasoning": "Check."}, "stop",
    {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105, "prompt_cache_hit_tokens": 60, "prompt_cache_miss_tokens": 40}))
case("012-legacy-function-call", comp({"role": "assistant", "content": None, "function_call": {"name": "Bash", "arguments": "{\"command\":\"id\"}"}}, "function_call", U))
case("020-not-json", "<html>502 Bad Gateway</html>", {"status": 502, "type": "api_error", "message_contains": "not a chat completion"})
case("021-no-choices", {"id": "x", "object": "chat.completion", "choices": []}, {"status": 502, "type": "api_error", "message_contains": "not a chat completion"})
case("022-array-body", [1, 2, 3], {"status": 502, "type": "api_error", "message_contains": "not a chat completion"})
case("023-error-with-200", {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
     {"status": 429, "type": "rate_limit_error", "message_contains": "Rate limit reached"})
case("024-error-context-with-200", {"error": {"message": "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.", "code": "context_length_exceeded"}},
     {"status": 400, "type": "invalid_request_error", "message_contains": "prompt is too long: 9000 tokens > 8192 maximum"})
case("025-too-deep", "{\"choices\":[{\"message\":{\"content\":" + "[" * 100 + "]" * 100 + "}}]}", {"status": 502, "type": "api_error", "message_contains": "not a chat completion"})
case("026-truncated-json", "{\"choices\":[{\"message\":{\"content\":\"hi", {"status": 502, "type": "api_error", "message_contains": "not a chat completion"})
