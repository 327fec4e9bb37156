# WifiNet (boards/esp32/wifi.py) against the fake network.WLAN (host_tests/fakes/network.py)
# and real loopback sockets. Dual runtime: pytest, and `micropython host_tests/test_esp32_wifi.py`.

import esp32_env

isolate = getattr(esp32_env, "isolate", None)  # pytest fixture: sys.path / sys.modules hygiene
esp32_env.setup()

import asyncio  # noqa: E402
import errno  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

SSID, PW = "shopfloor", "s3cret"


class Creds:
    def __init__(self, ssid=SSID, pw=PW):
        self.ssid, self.pw = ssid, pw

    def __call__(self):
        return self.ssid, self.pw


def fresh(aps=None, timeout_ms=2000, confirm_ms=150, creds=None, join_ms=20):
    import network
    import wifi

    network.WLAN.power_cycle()
    network.AIR.aps = {SSID: [PW, -58]} if aps is None else aps
    network.AIR.join_ms = join_ms
    logs = []
    w = network.WLAN(network.STA_IF)
    net = wifi.WifiNet(
        w,
        creds or Creds(),
        join_timeout_ms=timeout_ms,
        fail_confirm_ms=confirm_ms,
        log=logs.append,
    )
    return net, w, logs


def run(coro):
    return asyncio.run(coro)


def sleep_ms(ms):
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


def wait_for(pred, ms=1000):
    for _ in range(ms // 5):
        if pred():
            return True
        sleep_ms(5)
    return pred()


def bearer_error(net):
    import neterr

    try:
        run(net.up())
    except neterr.BearerError as e:
        return e
    raise AssertionError("up() did not fail")


# --- the bearer --------------------------------------------------------------------------------


def test_start_registers_and_up_answers_the_ip():
    import network

    net, w, _ = fresh()
    assert net.state() == "IDLE" and net.ip() == "0.0.0.0" and not net.is_up()
    assert net.start()
    assert w.active() and w.pm == w.PM_NONE  # power save off for latency
    assert wait_for(net.attached)  # joined at start-up: AT+CREG? says registered
    assert net.state() == "IDLE"  # ... but the bearer is not activated yet
    ip = run(net.up())
    assert ip == network.AIR.ip == net.ip()
    assert net.is_up() and net.state() == "CONNECTED"
    assert net.rssi() == -58
    assert w.connect_calls == 1


def test_up_joins_when_not_started():
    net, w, _ = fresh()
    assert run(net.up()) == "192.168.4.23"
    assert w.connect_calls == 1


def test_wrong_password_is_rejected_early():
    net, _, logs = fresh(creds=Creds(SSID, "wrong"), timeout_ms=5000)
    t0 = time.time()
    e = bearer_error(net)
    assert e.code == 35868
    assert time.time() - t0 < 2  # well before the 5 s timeout
    assert "wrong password" in net.last_error()
    assert net.state() == "IDLE" and net.ip() == "0.0.0.0"
    assert any("wrong password" in line for line in logs)


def test_no_access_point_is_not_attached():
    net, _, _ = fresh(aps={})
    e = bearer_error(net)
    assert e.code == 35865
    assert "no access point" in net.last_error() and SSID in net.last_error()


def test_no_ssid_configured():
    net, w, _ = fresh(creds=Creds("", ""))
    e = bearer_error(net)
    assert e.code == 35865 and "AT#WIFISSID" in net.last_error()
    assert w.connect_calls == 0


def test_join_timeout():
    net, _, _ = fresh(timeout_ms=200, join_ms=60000)
    t0 = time.time()
    e = bearer_error(net)
    assert e.code == 35865 and "after 200 ms" in net.last_error()
    assert time.time() - t0 < 2


def test_drop_and_return_uses_driver_reconnect_and_tells_the_truth():
    net, w, logs = fresh()
    run(net.up())
    net.poll()
    epoch = net.epoch()
    w.drop()
    assert not net.is_up() and net.state() == "DIALING" and net.ip() == "0.0.0.0"
    assert not net.poll()
    assert any("link lost" in line for line in logs)
    assert wait_for(net.is_up)  # the driver re-joined by itself
    assert net.poll() and net.epoch() == epoch + 1
    assert net.state() == "CONNECTED" and net.ip() == "192.168.4.23"
    assert w.connect_calls == 1  # we never called connect() again


def test_ap_gone_keeps_dialing_until_it_returns():
    import network

    net, w, _ = fresh()
    run(net.up())
    w.drop(ap_gone=True)
    sleep_ms(60)
    assert net.state() == "DIALING" and not net.attached()
    network.AIR.aps[SSID] = [PW, -70]
    assert wait_for(net.is_up)
    assert net.rssi() == -70


def test_soft_reset_adopts_the_running_join():
    import network
    import wifi

    net, w, _ = fresh()
    run(net.up())
    # soft reset: Python objects are gone, the WLAN stays connected
    net2 = wifi.WifiNet(network.WLAN(network.STA_IF), Creds())
    assert net2.state() == "IDLE"  # a fresh modem has no active bearer
    assert net2.start() and w.connect_calls == 1
    assert run(net2.up()) == "192.168.4.23"


def test_soft_reset_while_still_connecting_does_not_reconnect():
    import network
    import wifi

    net, w, _ = fresh(join_ms=100)
    net.start()
    net2 = wifi.WifiNet(network.WLAN(network.STA_IF), Creds())
    assert net2.start()  # a second connect() now would raise "Wifi Internal Error"
    assert w.connect_calls == 1
    assert run(net2.up()) == "192.168.4.23"


def test_new_credentials_rejoin_on_poll():
    import network

    creds = Creds()
    net, w, _ = fresh(creds=creds)
    run(net.up())
    network.AIR.aps["office"] = ["pw2", -40]
    creds.ssid, creds.pw = "office", "pw2"
    net.poll()
    assert w.disconnect_calls == 1 and w.connect_calls == 2
    assert wait_for(net.attached)
    assert net.rssi() == -40


def test_down_keeps_wifi_registered():
    net, _, _ = fresh()
    run(net.up())
    net.down()
    assert net.state() == "IDLE" and not net.is_up() and net.ip() == "0.0.0.0"
    assert net.attached()
    assert net.rssi() == -58
    assert run(net.up()) == "192.168.4.23"  # re-activation is immediate


def test_rssi_none_when_not_joined():
    net, _, _ = fresh()
    assert net.rssi() is None


# --- sockets -----------------------------------------------------------------------------------


def listen_any(net):
    for port in range(47301, 47400):
        try:
            return net.listen(port), port
        except OSError:
            continue
    raise AssertionError("no free port")


async def accept_soon(net, lsock, ms=2000):
    for _ in range(ms // 10):
        try:
            return net.accept(lsock)
        except OSError as e:
            if e.args[0] != errno.EAGAIN:
                raise
        await asyncio.sleep(0.01)
    raise AssertionError("nothing to accept")


async def recv_soon(sock, n, ms=2000):
    got = b""
    for _ in range(ms // 10):
        try:
            data = sock.recv(n)
        except OSError as e:
            if e.args[0] != errno.EAGAIN:
                raise
            data = None
        if data:
            got += data
            if len(got) >= n:
                return got
        await asyncio.sleep(0.01)
    return got


def test_listen_accept_connect_roundtrip():
    net, _, _ = fresh()
    lsock, port = listen_any(net)

    async def main():
        try:
            lsock.accept()
            raise AssertionError("accept on an idle listener must raise EAGAIN")
        except OSError as e:
            assert e.args[0] == errno.EAGAIN
        c = await net.connect("127.0.0.1", port, 2000)
        s, peer = await accept_soon(net, lsock)
        assert peer == "127.0.0.1"
        c.send(b"hello")
        assert await recv_soon(s, 5) == b"hello"
        s.send(b"world")
        assert await recv_soon(c, 5) == b"world"
        c.close()
        s.close()

    try:
        run(main())
    finally:
        lsock.close()


def test_listen_port_in_use():
    net, _, _ = fresh()
    lsock, port = listen_any(net)
    try:
        net.listen(port)
        raise AssertionError("second listen on the same port succeeded")
    except OSError:
        pass
    finally:
        lsock.close()


def test_connect_refused():
    net, _, _ = fresh()
    lsock, port = listen_any(net)
    lsock.close()  # nothing listens there now

    async def main():
        try:
            await net.connect("127.0.0.1", port, 2000)
        except OSError as e:
            return e
        raise AssertionError("connect to a closed port succeeded")

    import neterr

    e = run(main())
    assert not isinstance(e, neterr.ResolveError)


def test_connect_timeout_closes_and_raises_etimedout():
    # A listener with backlog 0 whose queue is full drops further SYNs: connect stays pending.
    net, _, _ = fresh()
    lsock = None
    for port in range(47401, 47500):
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            lsock.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
            lsock.listen(0)
            break
        except OSError:
            lsock.close()
            lsock = None
    assert lsock is not None

    async def main():
        first = await net.connect("127.0.0.1", port, 2000)  # fills the accept queue
        t0 = time.time()
        try:
            await net.connect("127.0.0.1", port, 300)
        except OSError as e:
            assert e.args[0] == errno.ETIMEDOUT, e
            assert time.time() - t0 < 1.5
            return first
        raise AssertionError("connect to a full listener did not time out")

    try:
        run(main()).close()
    finally:
        lsock.close()


def test_connect_resolves_names():
    net, _, _ = fresh()
    lsock, port = listen_any(net)

    async def main():
        c = await net.connect("localhost", port, 2000)
        s, _ = await accept_soon(net, lsock)
        c.close()
        s.close()

    try:
        run(main())
    finally:
        lsock.close()


def test_unresolvable_name_is_resolve_error():
    import neterr
    import wifi

    net, _, _ = fresh()
    real = wifi.getaddrinfo

    def no_dns(host, port, *args):
        if wifi.is_ipv4(host):
            return real(host, port, *args)
        raise OSError(-2, "name not known")

    wifi.getaddrinfo = no_dns
    try:
        run(net.connect("no-such-host.invalid", 80, 500))
        raise AssertionError("connect resolved an unresolvable name")
    except neterr.ResolveError:
        pass
    finally:
        wifi.getaddrinfo = real


def test_udp_session_socket():
    net, _, _ = fresh()

    async def main():
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for pport in range(47501, 47600):
            try:
                peer.bind(socket.getaddrinfo("127.0.0.1", pport)[0][-1])
                break
            except OSError:
                continue
        for lport in range(47601, 47700):
            try:
                s, addr = await net.udp("127.0.0.1", pport, lport)
                break
            except OSError:
                continue
        try:
            s.sendto(b"ping", addr)
            data, back = peer.recvfrom(16)
            assert data == b"ping"
            peer.sendto(b"pong", back)
            for _ in range(200):
                try:
                    got = s.recvfrom(16)
                    break
                except OSError as e:
                    assert e.args[0] == errno.EAGAIN
                await asyncio.sleep(0.01)
            assert got[0] == b"pong"
        finally:
            s.close()
            peer.close()

    run(main())


def test_icmp_echo_to_loopback():
    import ping  # firmware/ping.py: the packet code AT#PING uses

    net, _, _ = fresh()

    async def main():
        s, addr, ip = await net.icmp("127.0.0.1")
        assert ip == "127.0.0.1"
        try:
            s.sendto(ping.echo_request(0x4D54, 1), addr)
            for _ in range(200):
                try:
                    packet = s.recvfrom(1024)[0]
                    if ping.reply_seq(packet, 0x4D54) == 1:
                        return
                except OSError as e:
                    assert e.args[0] == errno.EAGAIN
                await asyncio.sleep(0.01)
            raise AssertionError("no echo reply from 127.0.0.1")
        finally:
            s.close()

    run(main())


def test_gateway():
    net, _, _ = fresh()
    assert net.gateway() == "0.0.0.0"
    run(net.up())
    assert net.gateway() == "192.168.4.1"


def test_is_ipv4():
    import wifi

    assert wifi.is_ipv4("10.0.0.1") and wifi.is_ipv4("255.255.255.255")
    assert not wifi.is_ipv4("256.1.1.1") and not wifi.is_ipv4("example.com")
    assert not wifi.is_ipv4("1.2.3") and not wifi.is_ipv4("a.b.c.d")


if __name__ == "__main__":
    esp32_env.run_tests(globals())
