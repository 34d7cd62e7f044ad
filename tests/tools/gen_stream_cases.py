#!/usr/bin/env python3
"""Write the OpenAI SSE inputs of the stream golden cases under
tests/data/translate/stream/ (openai.sse). The expected anthropic.sse files
come from reviewed runs of test_stream with CCP_GOLDEN_UPDATE=1.
Run from the top of the source tree."""
import json, os
base='tests/data/translate/stream'
os.makedirs(base, exist_ok=True)
def ch(delta=None, finish=None, usage=None, choices=True, extra=None):
    c={"id":"chatcmpl-t1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-big"}
    if choices:
        c["choices"]=[{"index":0,"delta":delta if delta is not None else {},"logprobs":None,"finish_reason":finish}]
    else:
        c["choices"]=[]
    if usage is not None: c["usage"]=usage
    if extra: c.update(extra)
    return "data: "+json.dumps(c,ensure_ascii=False,separators=(',',':'))
def role(): return ch({"role":"assistant","content":""})
def txt(t): return ch({"content":t})
def fin(r): return ch({},r)
DONE="data: [DONE]"
def write(name, lines, sep="\n\n", tail=None, raw=None):
    d=os.path.join(base,name); os.makedirs(d,exist_ok=True)
    data = raw if raw is not None else sep.join(lines)+(sep if tail is None else tail)
    open(os.path.join(d,'openai.sse'),'wb').write(data.encode('utf-8') if isinstance(data,str) else data)
def tc(idx, id=None, name=None, args=None, typ=True):
    t={"index":idx}
    if id is not None: t["id"]=id
    if typ and id is not None: t["type"]="function"
    f={}
    if name is not None: f["name"]=name
    if args is not None: f["arguments"]=args
    t["function"]=f
    return t
U={"prompt_tokens":120,"completion_tokens":9,"total_tokens":129}

write("001-plain-text",[role(),txt("Hi "),txt("there! "),txt("This is "),txt("the proxy."),fin("stop"),DONE])
write("002-text-utf8-escapes",[role(),txt("Grüße, "),txt("日本語 "),txt("😀 and \"quotes\",\n"),txt("tab\tback\\slash </tag> \u0001"),fin("stop"),DONE])
write("003-crlf",[role(),txt("Line one\r\n"),txt("line two"),fin("stop"),DONE],sep="\r\n\r\n")
write("004-comments-keepalive",[": connected",": OPENROUTER PROCESSING",role(),txt("Hel"),": keepalive","event: message","id: 7","retry: 1000",txt("lo"),":",fin("stop"),DONE])
args='{"command": "ls -la /home/user/project", "description": "List files"}'
frags=[args[i:i+5] for i in range(0,len(args),5)]
write("005-tool-single-fragmented",[role(),ch({"tool_calls":[tc(0,"call_abc123","Bash","")]})]+[ch({"tool_calls":[tc(0,args=f,typ=False)]}) for f in frags]+[fin("tool_calls"),DONE])
a1='{"file_path": "/home/user/project/a.txt"}'; a2='{"pattern": "*.c", "path": "src"}'
L=[role()]
L.append(ch({"tool_calls":[tc(0,"call_read1","Read","")]}))
L+= [ch({"tool_calls":[tc(0,args=a1[i:i+9],typ=False)]}) for i in range(0,len(a1),9)]
L.append(ch({"tool_calls":[tc(1,"call_glob2","Glob","")]}))
L+= [ch({"tool_calls":[{"index":1,"id":None,"function":{"name":None,"arguments":a2[i:i+7]}}]}) for i in range(0,len(a2),7)]
L+=[fin("tool_calls"),ch(None,None,U,choices=False),DONE]
write("006-tool-parallel-by-index",L)
L=[role(),txt("I'll "),txt("check."),ch({"tool_calls":[tc(0,"call_x1","Bash",'{"command":')]}),ch({"tool_calls":[tc(0,args='"pwd"}',typ=False)]}),fin("tool_calls"),DONE]
write("007-text-then-tool",L)
L=[ch({"role":"assistant","content":None,"reasoning_content":""}),ch({"reasoning_content":"The user "}),ch({"reasoning_content":"wants a greeting."}),ch({"content":"","reasoning_content":None}),ch({"content":"Hello!"}),ch({"content":" How can I help?"}),fin("stop"),DONE]
write("008-reasoning-then-text",L)
L=[role(),ch({"reasoning":"Think "}),ch({"reasoning":"hard."}),ch({"content":"Done."}),fin("stop"),ch(None,None,{"prompt_tokens":50,"completion_tokens":20,"total_tokens":70},choices=False),DONE]
write("009-reasoning-field",L)
L=[role(),txt("Cached "),txt("answer."),fin("stop"),ch(None,None,{"prompt_tokens":2000,"completion_tokens":3,"total_tokens":2003,"prompt_tokens_details":{"cached_tokens":1536},"completion_tokens_details":{"reasoning_tokens":0}},choices=False),DONE]
write("010-usage-final-chunk-cached",L)
write("011-finish-length",[role(),txt("This answer is cut"),fin("length"),ch(None,None,{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15},choices=False),DONE])
write("012-content-filter",[role(),txt("I can"),fin("content_filter"),DONE])
write("013-cut-mid-stream",[role(),txt("Partial "),txt("answer")])
write("014-error-mid-stream",[role(),txt("Hi "),'data: {"error":{"message":"The server is overloaded, please retry","type":"server_error","code":503}}',DONE])
write("015-finish-without-done",[role(),txt("No done marker."),fin("stop"),ch(None,None,U,choices=False)])
write("016-tool-without-arguments",[role(),ch({"tool_calls":[tc(0,"call_noargs","TodoRead","")]}),fin("tool_calls"),DONE])
write("017-cut-mid-line",[role(),txt("Half")],tail='\n\ndata: {"id":"chatcmpl-t1","choices":[{"index":0,"delta":{"content":"lo')
write("018-invalid-json-line",[role(),txt("ok "),'data: {"choices":[{"index":0,"delta":{"content":"x"}}',txt("never"),DONE])
big=[role()]
words="Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Überprüfung: ✓ ½ ∑ 漢字 🚀 ".split(' ')
for i in range(140):
    big.append(txt(words[i%len(words)]+' '))
big+=[fin("stop"),ch(None,None,{"prompt_tokens":900,"completion_tokens":140,"total_tokens":1040},choices=False),DONE]
write("019-long-text-random-splits",big)
write("020-whole-tool-call-finish-stop",[ch({"role":"assistant","content":None,"tool_calls":[{"id":"call_g1","type":"function","function":{"name":"Read","arguments":'{"file_path":"/tmp/x"}'},"index":0},{"id":"call_g2","type":"function","function":{"name":"Read","arguments":'{"file_path":"/tmp/y"}'},"index":1}]}),fin("stop"),DONE])
write("021-empty-upstream",[],raw="")
write("022-done-without-finish",[role(),txt("Answer without finish_reason."),DONE])
write("023-error-first-rate-limit",['data: {"error":{"message":"Rate limit reached for requests","type":"requests","code":"rate_limit_exceeded"}}'])
# three parallel calls, fragments interleaved: 0 and 1 start, 2 comes whole,
# then 0 and 1 finish; each call must come out as its own block, args intact
L=[role(),ch({"tool_calls":[tc(0,"call_i0","Read",'{"file_')]}),ch({"tool_calls":[tc(1,"call_i1","Read",'{"file_')]}),ch({"tool_calls":[tc(2,"call_i2","Read",'{"file_path":"c"}')]}),ch({"tool_calls":[tc(0,args='path":"a"}',typ=False)]}),ch({"tool_calls":[tc(1,args='path":"b"}',typ=False)]}),fin("tool_calls"),DONE]
write("024-interleaved-tool-fragments",L)
write("025-bom-and-cr-line-endings",[],raw="\ufeff"+"\r\r".join([role(),txt("CR only"),fin("stop"),DONE])+"\r\r")
L=[role(),ch({"tool_calls":[tc(0,"call_dup","Bash",'{"command":"echo 1"}')]}),ch({"tool_calls":[{"index":0,"id":"call_dup","type":"function","function":{"name":"Bash","arguments":""}}]}),fin("tool_calls"),ch(None,None,{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42,"prompt_cache_hit_tokens":10},choices=False),DONE]
write("026-tool-id-repeated-in-later-fragment",L)
write("027-usage-in-every-chunk",[ch({"role":"assistant","content":""},usage={"prompt_tokens":77,"completion_tokens":0,"total_tokens":77}),ch({"content":"a"},usage={"prompt_tokens":77,"completion_tokens":1,"total_tokens":78}),ch({"content":"b"},None,{"prompt_tokens":77,"completion_tokens":2,"total_tokens":79}),ch({},"stop",{"prompt_tokens":77,"completion_tokens":2,"total_tokens":79}),DONE])
write("028-data-after-done-ignored",[role(),txt("x"),fin("stop"),DONE,txt("ignored"),'data: {"error":{"message":"late"}}'])
write("029-context-length-error-in-stream",['data: {"error":{"message":"This model\'s maximum context length is 128000 tokens. However, your messages resulted in 130532 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}'])
