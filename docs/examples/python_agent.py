#!/usr/bin/env python3
"""A MAS agent in Python, over STOMP with stomp.py (Debian: python3-stomp; PyPI: stomp-py).

It connects to the broker as itself (its agent id and the secret that POST /api/agents returned), consumes its own
queue mas.agent.<id> and the queue of each capability it was registered with (mas.capability.<name>), answers every
message that asks for it with an acknowledgment on mas.acks, and sends envelopes durably to mas.inbound: each send
waits for the broker's RECEIPT, which comes only once the message is in the broker's journal.

    MAS_AGENT_SECRET=... python3 python_agent.py --agent worker-1 --capability summarize \
        --send planner --count 2

The secret is read from the environment (MAS_AGENT_SECRET), never from the command line, where `ps` would show it.
Exit codes: 0 once --count messages were handled (or on Ctrl-C), 1 on a timeout, 2 when the broker refuses to
connect (wrong id or secret).
"""
import argparse
import json
import os
import sys
import threading
import time
import uuid

import stomp


class Agent(stomp.ConnectionListener):
    def __init__(self, conn, agent_id):
        self.conn = conn
        self.agent_id = agent_id
        self.receipts = {}
        self.handled = 0
        self.handled_changed = threading.Condition()
        self.error = None

    # --- sending: durable, and only done once the broker has stored it -------------------------------------------
    def send(self, destination, body, timeout=10):
        receipt = str(uuid.uuid4())
        done = threading.Event()
        self.receipts[receipt] = done
        self.conn.send(destination, json.dumps(body), content_type="application/json",
                       headers={"persistent": "true", "receipt": receipt})
        if not done.wait(timeout):
            raise RuntimeError("no receipt from the broker for a send to %s" % destination)

    def on_receipt(self, frame):
        done = self.receipts.pop(frame.headers.get("receipt-id"), None)
        if done:
            done.set()

    def on_error(self, frame):
        self.error = frame.headers.get("message", "") + " " + (frame.body or "")
        print("broker error: %s" % self.error.strip(), flush=True)

    # --- receiving ------------------------------------------------------------------------------------------------
    def on_message(self, frame):
        # the message listener runs on stomp.py's receiver thread; sending from it would wait for a receipt that
        # this same thread has to read, so the work goes to a thread of its own
        threading.Thread(target=self.handle, args=(frame,), daemon=True).start()

    def handle(self, frame):
        envelope = json.loads(frame.body)
        message_id = frame.headers.get("mas_id", envelope.get("id"))
        print("received id=%s from=%s type=%s queue=%s payload=%s" % (
            message_id, frame.headers.get("mas_from"), envelope.get("message_type"),
            frame.headers.get("destination"), json.dumps(envelope.get("payload"))), flush=True)
        # ... the agent's own work goes here ...
        if envelope.get("requires_ack"):
            # the agent names itself: the broker refuses an acknowledgment for anyone else
            self.send("mas.acks", {"id": message_id, "agent": self.agent_id, "status": "processed",
                                   "detail": "handled by the example agent"})
            print("acked id=%s" % message_id, flush=True)
        # the STOMP ack last: if the agent dies before it, the broker delivers the message again
        self.conn.ack(frame.headers["ack"])
        with self.handled_changed:
            self.handled += 1
            self.handled_changed.notify_all()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("MAS_STOMP_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MAS_STOMP_PORT", "61616")))
    parser.add_argument("--agent", default=os.environ.get("MAS_AGENT_ID"), help="this agent's id (MAS_AGENT_ID)")
    parser.add_argument("--capability", action="append", default=[],
                        help="also consume mas.capability.<name> (a capability the agent was registered with)")
    parser.add_argument("--send", action="append", default=[], metavar="AGENT",
                        help="send one request to this agent (to_agent) at start")
    parser.add_argument("--send-capability", action="append", default=[], metavar="CAPABILITY",
                        help="send one request to whichever agent offers this capability (to_capability) at start")
    parser.add_argument("--count", type=int, default=0, help="stop after handling this many messages (0: run on)")
    parser.add_argument("--timeout", type=float, default=60.0, help="with --count: give up after this many seconds")
    args = parser.parse_args()
    secret = os.environ.get("MAS_AGENT_SECRET")
    if not args.agent or not secret:
        parser.error("give the agent id (--agent or MAS_AGENT_ID) and its secret in MAS_AGENT_SECRET")

    conn = stomp.Connection12([(args.host, args.port)], heartbeats=(10000, 10000))
    agent = Agent(conn, args.agent)
    conn.set_listener("", agent)
    try:
        conn.connect(username=args.agent, passcode=secret, wait=True)
    except stomp.exception.ConnectFailedException:
        print("the broker refused the connection for agent %s: %s" % (args.agent, agent.error or "no reason given"),
              flush=True)
        return 2
    print("connected as %s" % args.agent, flush=True)

    # queues exist from registration: an agent may consume them, not create them
    conn.subscribe("mas.agent." + args.agent, id="own", ack="client-individual")
    for capability in args.capability:
        conn.subscribe("mas.capability." + capability, id="capability-" + capability, ack="client-individual")

    for to in args.send:
        envelope = {"from_agent": args.agent, "to_agent": to, "message_type": "request",
                    "payload": {"task": "example", "sent_by": "python_agent.py"}, "requires_ack": True}
        agent.send("mas.inbound", envelope)
        print("sent to_agent=%s" % to, flush=True)
    for capability in args.send_capability:
        envelope = {"from_agent": args.agent, "to_capability": capability, "message_type": "request",
                    "payload": {"task": "example", "sent_by": "python_agent.py"}, "requires_ack": True}
        agent.send("mas.inbound", envelope)
        print("sent to_capability=%s" % capability, flush=True)

    try:
        deadline = time.monotonic() + args.timeout
        with agent.handled_changed:
            while args.count == 0 or agent.handled < args.count:
                remaining = deadline - time.monotonic() if args.count else 1.0
                if args.count and remaining <= 0:
                    print("timeout: handled %d of %d messages" % (agent.handled, args.count), flush=True)
                    return 1
                agent.handled_changed.wait(min(remaining, 1.0))
        print("done: handled %d messages" % agent.handled, flush=True)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        conn.disconnect()


if __name__ == "__main__":
    sys.exit(main())
