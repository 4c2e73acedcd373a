#!/usr/bin/env python3
# A minimal MQTT 3.1.1 client over a raw TCP socket, for the slow-consumer
# test (mqtt_slow_subscriber.sh; not a test itself).  python3 only.
#
#   mqttraw.py stall HOST PORT LOGIN PASSWORD FILTER
#       a contact center that subscribes (QoS 1, persistent session, no
#       keepalive) and then never reads its socket again (receive buffer
#       4 KiB); prints "subscribed" and sleeps until killed.
#   mqttraw.py flood HOST PORT LOGIN PASSWORD TOPIC COUNT SIZE
#       publishes COUNT messages of SIZE bytes at QoS 1 (at most 200
#       unacknowledged), waits for every PUBACK; prints
#       "published N acked N in S s".
import socket, struct, sys, time


def s16(b):
    return struct.pack("!H", len(b)) + b


def packet(first, body):
    n, enc = len(body), b""
    while True:
        d, n = n % 128, n // 128
        enc += bytes([d | (0x80 if n else 0)])
        if not n:
            break
    return bytes([first]) + enc + body


def read_packet(s, buf):
    # (type byte, body, rest of buf); blocks for more bytes when needed
    while True:
        if len(buf) >= 2:
            mult, n, i = 1, 0, 1
            while i < len(buf):
                n += (buf[i] & 0x7F) * mult
                mult *= 128
                if not buf[i] & 0x80:
                    break
                i += 1
            else:
                i = None
            if i is not None and len(buf) >= i + 1 + n:
                return buf[0], buf[i + 1:i + 1 + n], buf[i + 1 + n:]
        c = s.recv(65536)
        if not c:
            raise SystemExit("the broker closed the connection")
        buf += c


def connect(host, port, login, password, clean, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((host, int(port)))
    flags = 0x80 | 0x40 | (0x02 if clean else 0)
    body = s16(b"MQTT") + bytes([4, flags]) + struct.pack("!H", 0)
    body += s16(login.encode()) + s16(login.encode()) + s16(password.encode())
    s.sendall(packet(0x10, body))
    t, b, rest = read_packet(s, b"")
    if t != 0x20 or b[1] != 0:
        raise SystemExit("CONNECT refused: %r" % b)
    return s, rest


def stall(host, port, login, password, filt):
    s, buf = connect(host, port, login, password, False, rcvbuf=4096)
    s.sendall(packet(0x82, struct.pack("!H", 1) + s16(filt.encode()) + bytes([1])))
    while True:
        t, b, buf = read_packet(s, buf)
        if t == 0x90:
            if b[2] == 0x80:
                raise SystemExit("SUBSCRIBE refused")
            break
    print("subscribed", flush=True)
    while True:  # and never read again
        time.sleep(3600)


def flood(host, port, login, password, topic, count, size):
    s, buf = connect(host, port, login, password, True)
    payload = b"x" * size
    t0, sent, acked, inflight = time.time(), 0, 0, 0
    while acked < count:
        while sent < count and inflight < 200:
            mid = sent % 65535 + 1
            s.sendall(packet(0x32, s16(topic.encode()) + struct.pack("!H", mid) + payload))
            sent += 1
            inflight += 1
        t, b, buf = read_packet(s, buf)
        if t == 0x40:
            acked += 1
            inflight -= 1
    print("published %d acked %d in %.1f s" % (sent, acked, time.time() - t0), flush=True)
    s.sendall(b"\xe0\x00")
    s.close()


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "stall" and len(a) == 6:
        stall(*a[1:])
    elif a and a[0] == "flood" and len(a) == 8:
        flood(a[1], a[2], a[3], a[4], a[5], int(a[6]), int(a[7]))
    else:
        sys.exit("usage: see the top of this file")
