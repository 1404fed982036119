"""Every reach of ProxyOTSClient into tablestore's private parts (tests/test_compat.py).

tablestore has no public hook around a request. Every OTSClient method that talks to the service calls
``self._request_helper(api_name, *args, **kwargs)`` (the knowledge-base and memory-store methods of 6.4 call
``self._vectors_request_helper(api_name, request)``), which takes ONE snapshot of the credentials provider, builds
and signs the request with it, sends it through the SDK's retry loop (which re-sends the very same signed bytes),
checks the answer's signature with the same snapshot, and decodes the answer. ProxyOTSClient overrides these two
methods to re-issue the whole of it after an expired-key error: built and signed anew with the refreshed key, and
its answer checked with that key. tests/test_compat.py fails with a message naming this module when an upgrade
renames them or changes how they read the key.
"""

#: The methods every OTSClient request goes through, each ``(self, api_name, *args, **kwargs)``. The second is
#: only in tablestore >= 6.4 (the vector APIs); overriding it does nothing on older versions, which never call it.
REQUEST_HOOKS = ("_request_helper", "_vectors_request_helper")
