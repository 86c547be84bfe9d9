# Copyright 2026 The Ansible Playbook Operator Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# playbook-runner writes this file into $TMPDIR and puts that directory in
# front of ANSIBLE_CALLBACK_PLUGINS. It records what the recap shows, per
# host, and the failed tasks, as JSON in the file named by
# ANSIBLE_PLAYBOOK_OPERATOR_SUMMARY, so that the runner never parses
# ansible's human output. It prints nothing: the stdout callback is left
# alone. Written for ansible-core 2.14 (Debian bookworm) and later: the
# CallbackBase v2 API, stats.summarize and TaskResult are stable since 2.0.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = '''
    name: ansible_playbook_operator_summary
    type: aggregate
    short_description: per-host counts and failed tasks for playbook-runner
    description:
      - Writes the recap counters of every host and the failed and
        unreachable tasks (host, task, first 200 characters of the message)
        as JSON into the file named by ANSIBLE_PLAYBOOK_OPERATOR_SUMMARY.
      - Loaded without being listed in callbacks_enabled, so that a
        repository's own callbacks_enabled setting stays in force.
'''

import json
import os

from ansible.plugins.callback import CallbackBase

MAX_MESSAGE = 200
CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"


def _text(value):
    if value is None:
        return ''
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except Exception:  # pylint: disable=broad-except
        return str(value)


def _censored(result):
    return isinstance(result, dict) and (result.get('_ansible_no_log') or 'censored' in result)


def _message(task, result):
    """The most useful line of a failed result, never a no_log one."""
    if getattr(task, 'no_log', False) is True or not isinstance(result, dict) or _censored(result):
        return CENSORED
    msg = _text(result.get('msg')).strip()
    items = result.get('results')
    if isinstance(items, list) and (not msg or msg == 'One or more items failed'):
        for item in items:
            if isinstance(item, dict) and item.get('failed'):
                if _censored(item):
                    return CENSORED
                item_msg = _message(task, item)
                if item_msg:
                    msg = 'item %s: %s' % (_text(item.get('item', item.get('_ansible_item_label', ''))), item_msg)
                break
    if not msg:
        for key in ('stderr', 'reason', 'exception'):
            msg = _text(result.get(key)).strip()
            if msg:
                break
    if len(msg) > MAX_MESSAGE:
        msg = msg[:MAX_MESSAGE - 3] + '...'
    return msg


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'ansible_playbook_operator_summary'
    # Loaded from ANSIBLE_CALLBACK_PLUGINS without callbacks_enabled: setting
    # ANSIBLE_CALLBACKS_ENABLED would replace the repository's own list.
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, display=None, options=None):
        super(CallbackModule, self).__init__(display=display, options=options)
        self._path = os.environ.get('ANSIBLE_PLAYBOOK_OPERATOR_SUMMARY', '')
        self._failures = []

    def _record(self, result, unreachable):
        task = result._task
        self._failures.append({
            'host': result._host.get_name(),
            'task': _text(task.get_name()).strip() if task is not None else '',
            'message': _message(task, result._result),
            'unreachable': unreachable,
        })

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._record(result, False)

    def v2_runner_on_unreachable(self, result):
        self._record(result, True)

    def v2_playbook_on_stats(self, stats):
        hosts = []
        keep = {}
        for name in sorted(stats.processed.keys()):
            s = stats.summarize(name)
            hosts.append({
                'host': name,
                'ok': s['ok'],
                'changed': s['changed'],
                'failed': s['failures'],
                'unreachable': s['unreachable'],
                'skipped': s['skipped'],
                'rescued': s.get('rescued', 0),
                'ignored': s.get('ignored', 0),
            })
            keep[name] = s['failures'] + s['unreachable']
        # A failure that a rescue section handled was counted as rescued, not
        # failed; the host goes on, so its real failures are its last ones.
        failures = []
        for f in reversed(self._failures):
            if keep.get(f['host'], 0) > 0:
                keep[f['host']] -= 1
                failures.append(f)
        failures.reverse()
        self._write({'hosts': hosts, 'failures': failures})

    def _write(self, data):
        if not self._path:
            return
        tmp = self._path + '.tmp'
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            json.dump(data, f)
        os.replace(tmp, self._path)
