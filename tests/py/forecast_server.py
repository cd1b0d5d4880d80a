#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A local stand-in for an OpenAI-compatible chat endpoint, for tests/test_forecast.c.

usage: forecast_server.py PORTFILE [PARENT_PID]

Exits when PARENT_PID (the test) is gone, and after 300 s in any case, so that a crashed
test leaves no server behind.

Listens on 127.0.0.1 (a free port), writes "PORT PID" to PORTFILE, and answers
POST /v1/chat/completions like llama.cpp's server or vLLM. What it answers depends on a word
in the seed event of the prompt ("Event: ..."):
  OK        a valid tree             FENCED   a tree inside ```json fences with prose around
  BARE      a bare node array        NOTJSON  prose without JSON
  BADTREE   a probability of 1.7     NOTCHAT  200 with a body that is not a chat completion
  FLAKY     503 the first time, then a valid tree      CLIENTERR  400 always
  CHUNKED   a valid tree with Transfer-Encoding: chunked
  SLOW      sleeps 2 s before a valid tree
POST /count answers {"posts": N}: how many chat requests were served. A request without
"model" and "messages" gets 400.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
POSTS = 0
SEEN = {}

TREE = {"outcome_chain": [
    {"depth": 1, "event": "Stock price drops 15% in initial trading", "probability": 0.6,
     "timeframe_months": 1, "alternatives": [{"event": "Stock price flat", "probability": 0.4}]},
    {"depth": 2, "event": "Competitors announce similar layoffs", "probability": 0.5,
     "timeframe_months": 3, "alternatives": [{"event": "Hiring rebounds", "probability": 0.5}]},
]}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, obj, chunked=False):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            for i in range(0, len(body), 17):
                part = body[i:i + 17]
                self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        self.close_connection = True

    def chat(self, content):
        return {"id": "x", "object": "chat.completion", "model": "fixture",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}]}

    def do_POST(self):
        global POSTS
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        if self.path == "/count":
            with LOCK:
                self.send(200, {"posts": POSTS})
            return
        if self.path != "/v1/chat/completions":
            self.send(404, {"error": "not found"})
            return
        try:
            req = json.loads(raw)
            msgs = req["messages"]
            req["model"]
            user = [m["content"] for m in msgs if m["role"] == "user"][0]
        except Exception as e:  # noqa: BLE001
            self.send(400, {"error": "bad request: %s" % e})
            return
        ev = ""
        for line in user.splitlines():
            if line.startswith("Event: "):
                ev = line[7:]
        with LOCK:
            POSTS += 1
            SEEN[ev] = SEEN.get(ev, 0) + 1
            seen = SEEN[ev]
        tree = json.dumps(TREE)
        if "FENCED" in ev:
            self.send(200, self.chat("Here is the tree:\n```json\n" + tree + "\n```\nDone."))
        elif "BARE" in ev:
            nodes = [{"event": n["event"], "probability": n["probability"],
                      "timeframe_months": n["timeframe_months"]} for n in TREE["outcome_chain"]]
            self.send(200, self.chat(json.dumps(nodes)))
        elif "NOTJSON" in ev:
            self.send(200, self.chat("I cannot predict the future."))
        elif "BADTREE" in ev:
            bad = json.loads(tree)
            bad["outcome_chain"][0]["probability"] = 1.7
            self.send(200, self.chat(json.dumps(bad)))
        elif "NOTCHAT" in ev:
            self.send(200, {"error": {"message": "model overloaded"}})
        elif "FLAKY" in ev and seen == 1:
            self.send(503, {"error": "try again"})
        elif "CLIENTERR" in ev:
            self.send(400, {"error": "context too long"})
        elif "CHUNKED" in ev:
            self.send(200, self.chat(tree), chunked=True)
        elif "SLOW" in ev:
            time.sleep(2.0)
            self.send(200, self.chat(tree))
        else:
            self.send(200, self.chat(tree))


def watchdog(parent):
    start = time.time()
    while time.time() - start < 300:
        if parent:
            try:
                os.kill(parent, 0)
            except OSError:
                break
        time.sleep(0.5)
    os._exit(0)


def main():
    parent = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    threading.Thread(target=watchdog, args=(parent,), daemon=True).start()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (srv.server_address[1], os.getpid()))
    os.rename(tmp, sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
