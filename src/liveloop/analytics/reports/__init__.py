"""Reports: the post-live report of a session and the weekly / monthly marketing report, as data
(``postlive``, ``marketing``), as self-contained HTML and PDF (``render``), archived (``archive``) and
delivered on a schedule (``schedules``)."""
