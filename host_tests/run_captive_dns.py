# Runs firmware/captive_dns.py as a server on 127.0.0.1, under CPython or the MicroPython VM,
# for host_tests/test_captive_dns_client.py:
#     python|micropython host_tests/run_captive_dns.py PORT ANSWER_IP
# A second UDP socket on PORT+1 takes "stats" (answers "ticks alloc answered refused dropped":
# loop turns of a ticker task, heap in use after a collection (-1 on CPython), the counters)
# and "stop". Prints "ready" once both sockets are bound.

import esp32_env

esp32_env.setup()

import asyncio  # noqa: E402
import gc  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

import captive_dns  # noqa: E402


async def main(port, answer_ip):
    srv = captive_dns.CaptiveDNS(answer_ip, port, "127.0.0.1")
    srv.open()
    ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ctl.bind(socket.getaddrinfo("127.0.0.1", port + 1, 0, socket.SOCK_DGRAM)[0][-1])
    ctl.setblocking(False)
    ticks = [0]

    async def ticker():
        while True:
            ticks[0] += 1
            await asyncio.sleep(0.002)

    tasks = [asyncio.create_task(srv.run()), asyncio.create_task(ticker())]
    print("ready")
    try:
        while True:
            await captive_dns.readable(ctl)
            cmd, peer = ctl.recvfrom(64)
            if cmd == b"stop":
                break
            gc.collect()
            alloc = gc.mem_alloc() if hasattr(gc, "mem_alloc") else -1
            line = "%d %d %d %d %d" % (ticks[0], alloc, srv.answered, srv.refused, srv.dropped)
            ctl.sendto(line.encode(), peer)
    finally:
        for t in tasks:
            t.cancel()
        srv.close()
        ctl.close()


asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
