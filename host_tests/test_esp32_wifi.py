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


# --- hold / resume (the set-up access point pauses the driver's re-joining) --------------------


def test_hold_stops_the_driver_and_start_resumes_it():
    net, w, logs = fresh(aps={})  # nothing to join: the driver would retry for ever
    assert net.start() and net.joining()
    tries = net.attempts()
    net.hold()
    assert net.held() and not net.joining() and w.disconnect_calls == 1
    assert any("paused" in line for line in logs)
    net.poll()  # the same credentials: poll() does not undo the hold
    assert w.connect_calls == 1 and net.held()
    net.hold()  # twice is once
    assert w.disconnect_calls == 1
    assert net.start() and net.joining() and not net.held()
    assert w.connect_calls == 2 and net.attempts() == tries + 1


def test_new_credentials_resume_a_held_join():
    import network

    creds = Creds()
    net, w, _ = fresh(aps={}, creds=creds)
    net.start()
    net.hold()
    network.AIR.aps["office"] = ["pw2", -40]
    creds.ssid, creds.pw = "office", "pw2"
    net.poll()
    assert not net.held() and wait_for(net.attached)
    assert net.link_ip() == "192.168.4.23" and net.ip() == "0.0.0.0"  # not activated yet


def test_hold_without_a_join_does_nothing():
    net, w, _ = fresh(creds=Creds("", ""))
    net.hold()
    assert not net.held() and w.disconnect_calls == 0


# --- scan ------------------------------------------------------------------------------------


class Modem:
    """What join()/scan() use of the engine: its real Settings, busy(), session, service."""

    def __init__(self):
        import settings

        self.settings = settings.Settings(settings.Store(tmpdir("wifi-settings")))
        self.session = None
        self.service = None
        self.listener = None

    def busy(self):
        return self.listener is not None or self.session is not None or self.service is not None


_tmp_n = [0]


def tmpdir(tag):
    import os

    _tmp_n[0] += 1
    pid = os.getpid() if hasattr(os, "getpid") else 0
    path = "/tmp/mtip-%s-%d-%d" % (tag, pid, _tmp_n[0])
    try:
        os.mkdir(path)
    except OSError:
        pass
    for name in ("settings.json", "settings.json.tmp"):
        try:
            os.remove(path + "/" + name)
        except OSError:
            pass
    return path


def with_modem(**kw):
    net, w, logs = fresh(**kw)
    net.modem = Modem()
    return net, w, logs


def test_scan_lists_each_name_once_strongest_first():
    import network

    net, w, _ = with_modem(aps={SSID: [PW, -58], "open-cafe": ["", -70], "office": ["k" * 8, -40]})
    network.AIR.scan_extra = [
        (b"", -30, 3),  # hidden: no name to choose
        (b"caf\xc3\xa9", -50, 3),  # not printable ASCII: AT#WIFISSID cannot hold it
        (b"office", -80, 3),  # a second, weaker AP of the same network
        (b"\xff\xfe", -60, 0),  # not even UTF-8
    ]
    rows = run(net.scan())
    assert rows == [
        {"ssid": "office", "rssi": -40, "secure": True},
        {"ssid": SSID, "rssi": -58, "secure": True},
        {"ssid": "open-cafe", "rssi": -70, "secure": False},
    ]
    assert net.scanner.dropped == 3


def test_scan_runs_beside_the_loop_on_a_thread():
    import network

    net, w, _ = with_modem()
    ticks = [0]
    # The fake scan does not end before the loop has turned five times: a scan that held the
    # loop would never see that happen (the fake gives up after 5 s and the test fails).
    network.AIR.scan_gate = lambda: ticks[0] >= 5

    async def main():
        async def ticker():
            while True:
                ticks[0] += 1
                await asyncio.sleep(0.01)

        t = asyncio.create_task(ticker())
        try:
            return await net.scan()
        finally:
            t.cancel()

    rows = run(main())
    assert [r["ssid"] for r in rows] == [SSID] and ticks[0] >= 5
    assert net.scanner.threads == 1


def test_scan_without_threads_runs_inline_and_blocks_the_loop():
    import network
    import wifi_setup

    net, w, _ = with_modem()
    net.scanner = wifi_setup.Scanner(net, w, use_thread=False)
    network.AIR.scan_ms = 60
    ticks = [0]

    async def main():
        async def ticker():
            while True:
                ticks[0] += 1
                await asyncio.sleep(0)

        t = asyncio.create_task(ticker())
        await asyncio.sleep(0.01)
        before = ticks[0]
        rows = await net.scan()
        after = ticks[0]
        t.cancel()
        return rows, before, after

    rows, before, after = run(main())
    assert rows[0]["ssid"] == SSID and net.scanner.threads == 0
    assert after == before  # the documented cost of scanning without a thread


def test_scan_turns_the_station_on():
    net, w, _ = with_modem(creds=Creds("", ""))
    assert not w.active()
    assert run(net.scan())[0]["ssid"] == SSID and w.active()


def test_scan_pauses_a_join_in_flight_and_resumes_it():
    import network

    net, w, _ = with_modem(aps={})
    network.AIR.scan_extra = [(b"elsewhere", -65, 3)]
    net.start()
    assert net.joining()
    assert w.scan() == []  # what the driver answers while a join is in flight
    rows = run(net.scan())
    assert [r["ssid"] for r in rows] == ["elsewhere"]
    assert net.joining() and w.connect_calls == 2  # resumed


def test_scans_are_shared_and_cached():
    import network

    net, w, _ = with_modem()
    network.AIR.scan_ms = 30

    async def main():
        return await asyncio.gather(net.scan(), net.scan(), net.scan())

    a, b, c = run(main())
    assert a == b == c and network.AIR.scans == 1
    run(net.scan())
    assert network.AIR.scans == 1  # within the cache time


def test_scan_refused_while_a_session_runs():
    net, w, _ = with_modem()
    net.modem.session = object()
    try:
        run(net.scan())
        raise AssertionError("scanned during a session")
    except OSError as e:
        assert "session" in str(e)
    import network

    assert network.AIR.scans == 0
    net.modem.session = None
    net.modem.listener = object()  # listening only: a scan delays nothing that flows
    assert run(net.scan())[0]["ssid"] == SSID


def test_scan_failure_is_raised_and_the_next_scan_works():
    import network

    net, w, _ = with_modem()

    def broken():
        raise OSError("Wifi Internal State Error")

    network.AIR.scan_gate = broken
    try:
        run(net.scan())
        raise AssertionError("the failure was swallowed")
    except OSError as e:
        assert "State" in str(e)
    network.AIR.scan_gate = None
    assert run(net.scan())[0]["ssid"] == SSID


# --- join ------------------------------------------------------------------------------------


def test_join_stores_like_at_and_joins():
    net, w, logs = with_modem(creds=None, aps={"office": ["pw-office", -45]})
    st = net.modem.settings
    net._creds = lambda: (st.get("WIFISSID"), st.get("WIFIPW"))
    ok, detail = run(net.join("office", "pw-office"))
    assert ok, detail
    assert detail == "joined 'office', address 192.168.4.23"
    assert st.get("WIFISSID") == "office" and st.get("WIFIPW") == "pw-office"
    import settings

    again = settings.Settings(settings.Store(st.store.path.rpartition("/")[0]))
    assert again.get("WIFISSID") == "office"  # the same file AT reads
    assert net.attached() and w.connect_calls == 1
    assert not any("pw-office" in line for line in logs)


def test_join_wrong_password():
    import network

    net, w, logs = with_modem(aps={"office": ["right-one", -45]})
    st = net.modem.settings
    net._creds = lambda: (st.get("WIFISSID"), st.get("WIFIPW"))
    ok, detail = run(net.join("office", "wrong-one"))
    assert not ok and "wrong password" in detail and "wrong-one" not in detail
    assert st.get("WIFISSID") == "office"  # stored, as AT#WIFIPW would have
    assert not any("wrong-one" in line for line in logs)
    network.AIR.aps["office"][0] = "wrong-one"  # a second try after the AP's change works
    ok, detail = run(net.join("office", "wrong-one"))
    assert ok, detail


def test_join_no_access_point():
    net, w, _ = with_modem(aps={})
    st = net.modem.settings
    net._creds = lambda: (st.get("WIFISSID"), st.get("WIFIPW"))
    ok, detail = run(net.join("nowhere", "whatever1"))
    assert not ok and "no access point 'nowhere'" in detail


def test_join_times_out_like_connectionstart():
    net, w, _ = with_modem(timeout_ms=200, join_ms=60000)
    st = net.modem.settings
    net._creds = lambda: (st.get("WIFISSID"), st.get("WIFIPW"))
    ok, detail = run(net.join(SSID, PW))
    assert not ok and "after 200 ms" in detail


def test_join_refused_while_busy_like_at():
    net, w, _ = with_modem()
    st = net.modem.settings
    net.modem.listener = object()
    ok, detail = run(net.join(SSID, PW))
    assert not ok and "37123" in detail
    assert st.get("WIFISSID") == "" and w.connect_calls == 0


def test_join_validates_both_before_storing_either():
    net, w, _ = with_modem()
    st = net.modem.settings
    for ssid, pw, what in (
        ("", PW, "choose"),
        ("x" * 33, PW, "network name"),
        ("tab\there", PW, "network name"),
        (SSID, "p" * 64, "password"),
        (SSID, "caf\u00e9", "password"),
        (SSID, None, "password"),
    ):
        ok, detail = run(net.join(ssid, pw))
        assert not ok and what in detail and "34882" in detail, (ssid, detail)
        assert st.get("WIFISSID") == "" and st.get("WIFIPW") == ""
    assert w.connect_calls == 0


def test_join_storage_failure_keeps_the_old_pair():
    net, w, _ = with_modem()
    st = net.modem.settings
    st.set("WIFISSID", "before")
    st.set("WIFIPW", "before-pw")
    real = st.store.save
    calls = [0]

    def failing(data):
        calls[0] += 1
        if calls[0] == 2:  # the SSID is stored, the password is not
            raise OSError(28, "ENOSPC")
        real(data)

    st.store.save = failing
    ok, detail = run(net.join(SSID, PW))
    assert not ok and "34824" in detail
    assert st.get("WIFISSID") == "before" and st.get("WIFIPW") == "before-pw"


def test_join_one_at_a_time():
    net, w, _ = with_modem(join_ms=150)
    st = net.modem.settings
    net._creds = lambda: (st.get("WIFISSID"), st.get("WIFIPW"))

    async def main():
        first = asyncio.create_task(net.join(SSID, PW))
        await asyncio.sleep(0.03)
        second = await net.join(SSID, PW)
        return await first, second

    first, second = run(main())
    assert first[0] and not second[0] and "in progress" in second[1]


def test_join_without_the_engine():
    net, w, _ = fresh()
    ok, detail = run(net.join(SSID, PW))
    assert not ok and "not running" in detail


def test_setup_ap_is_none_without_one():
    net, _, _ = fresh()
    assert net.setup_ap() is None


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
