#!/usr/bin/env python3
"""Parses a multipart/form-data body with Python's email package, an implementation nobody
here wrote, and prints one line per part: name, file name, content type and the content in
hex, separated by '|' (an absent file name is empty).

usage: parse_multipart.py BODY_FILE CONTENT_TYPE
"""
import email.parser
import email.policy
import sys


def main():
    body_file, content_type = sys.argv[1], sys.argv[2]
    with open(body_file, 'rb') as f:
        body = f.read()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b'Content-Type: ' + content_type.encode('ascii') + b'\r\n\r\n' + body)
    if not message.is_multipart() or message.defects:
        print('not a valid multipart body:', message.defects)
        return 1
    for part in message.iter_parts():
        if part.defects:
            print('defective part:', part.defects)
            return 1
        name = part.get_param('name', header='content-disposition') or ''
        file_name = part.get_param('filename', header='content-disposition') or ''
        content = part.get_payload(decode=True)
        print('|'.join([name, file_name, part.get_content_type(), content.hex()]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
