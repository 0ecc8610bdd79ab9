"""Evidence files attached to records: the type and file-name rules
(``rules``), content-addressed storage (``store``) and the attaching both
services share (``attach``). The HTTP side (streamed multipart upload with its
size limit, the download response) is ``shared.http.uploads``."""
