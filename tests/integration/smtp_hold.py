# smtp_hold: a TCP proxy in front of an SMTP server for the notification
# fault tests.  It relays bytes both ways; while the file HOLD exists, the
# server's answer to the end of a message's DATA (the "250 queued") is
# held back HOLD_SECONDS, and MARK is created while it is held: the mail
# is with the server, the client does not know yet - the moment to kill
# the client.  Plain SMTP only (it reads the client's bytes).
#   python3 smtp_hold.py LISTEN_PORT SERVER_PORT HOLD MARK HOLD_SECONDS
import asyncio
import os
import sys

listen, server, hold, mark, secs = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                                    sys.argv[4], float(sys.argv[5]))


async def pipe(reader, writer, state, from_client):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if from_client:
                state["tail"] = (state["tail"] + data)[-5:]
                if b"\r\n.\r\n" in state["tail"] or data.endswith(b"\r\n.\r\n"):
                    state["eod"] = True
            elif state["eod"]:
                state["eod"] = False
                if os.path.exists(hold):
                    open(mark, "w").close()
                    await asyncio.sleep(secs)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(creader, cwriter):
    try:
        sreader, swriter = await asyncio.open_connection("127.0.0.1", server)
    except OSError:
        cwriter.close()
        return
    state = {"tail": b"", "eod": False}
    await asyncio.gather(pipe(creader, swriter, state, True),
                         pipe(sreader, cwriter, state, False))


async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
