# mailcheck: read one e-mail (RFC 5322 bytes on stdin) and print what the
# notification tests check, one "key=value" per line, decoded: subject,
# from, to, message_id, in_reply_to, references, reply_to, content_type,
# charset, transfer_encoding, duplicate, date_ok, body (escaped newlines);
# for a multipart document also html, attachments ("name:type:sha256"
# each) and structure (the content types of every part, in order).  With
# MAILCHECK_SAVE=DIR set, each attachment is also written to DIR/<its name>.
import email
import hashlib
import os
import email.policy
import email.utils
import sys

raw = sys.stdin.buffer.read()
m = email.message_from_bytes(raw, policy=email.policy.default)


def out(k, v):
    v = "" if v is None else str(v)
    print("%s=%s" % (k, v.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")))


out("subject", m["Subject"])
out("from", m["From"])
out("to", m["To"])
out("message_id", m["Message-ID"])
out("in_reply_to", m["In-Reply-To"])
out("references", m["References"])
out("reply_to", m["Reply-To"])
out("content_type", m.get_content_type())
out("charset", m.get_content_charset())
out("transfer_encoding", m["Content-Transfer-Encoding"])
out("duplicate", m["X-Mamori-Possible-Duplicate"])
out("auto_submitted", m["Auto-Submitted"])
try:
    out("date_ok", email.utils.parsedate_to_datetime(m["Date"]) is not None)
except Exception:
    out("date_ok", False)
# the raw header is ASCII (encoded-words); the Subject's folded lines are
# short (msg-ids cannot be folded: their lines may be longer)
hdr = raw.split(b"\r\n\r\n", 1)[0]
out("header_ascii", all(b < 128 for b in hdr))
lines, subj = hdr.split(b"\r\n"), []
for i, l in enumerate(lines):
    if l.lower().startswith(b"subject:"):
        subj.append(l)
        for c in lines[i + 1:]:
            if not c.startswith((b" ", b"\t")):
                break
            subj.append(c)
out("longest_subject_line", max(len(l) for l in subj) if subj else 0)
if m.is_multipart():
    # a document: the text and HTML alternatives, and its files
    plain = m.get_body(preferencelist=("plain",))
    html = m.get_body(preferencelist=("html",))
    out("body", plain.get_content() if plain is not None else None)
    out("body_charset", plain.get_content_charset() if plain is not None else None)
    out("html", html.get_content() if html is not None else None)
    atts = []
    for a in m.iter_attachments():
        data = a.get_payload(decode=True)
        save = os.environ.get("MAILCHECK_SAVE")
        if save and a.get_filename():
            with open(os.path.join(save, os.path.basename(a.get_filename())), "wb") as f:
                f.write(data)
        atts.append("%s:%s:%s" % (a.get_filename(), a.get_content_type(),
                                  hashlib.sha256(data).hexdigest()))
    out("attachments", " ".join(atts))
    out("structure", " ".join(p.get_content_type() for p in m.walk()))
else:
    out("body", m.get_content())
