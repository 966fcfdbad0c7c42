# SAND — English texts for foreign verifiers: the same messages as fr.ftl, with the
# same variables (a test checks it). Official French names (diplomas, académies,
# mentions) stay French.

## Layout

skip-link = Skip to content
demo-banner-label = Demonstration site
demo-banner-strong = Demonstration site.
demo-banner-text = The data are fictitious; this is not an official service and the attestations produced here have no value.
brand-tag = Diploma attestations
nav-label = Main menu
nav-space = Graduate space
nav-verify = Verify a diploma
nav-catalogue = Available diplomas
nav-help = Help
nav-sign-out = Sign out
nav-sign-in = Sign in
footer-about = { $operator } — digital attestations of French diplomas.
footer-help = Help (in French)
footer-offices = Exam offices of the académies (in French)
footer-legal = Legal notice (in French)
footer-privacy = Personal data (in French)
footer-accessibility = Accessibility: { $status }
footer-api = API for employers (interactive Swagger documentation)
conformance-full = fully compliant
conformance-partial = partially compliant
conformance-none = not compliant
error-title-prefix = Error:{" "}
language-switch-label = Language
language-other = Français
language-other-code = fr
session-note-before = Without activity, your session will end at
session-note-after = (Paris time). Opening any page extends it.
session-warning = Your session will end in less than 2 minutes for lack of activity; anything typed and not yet sent would be lost.
session-stay = Stay signed in

## Form errors

errors-one = The form contains one error
errors-many = The form contains { $count } errors
error-hidden-prefix = Error:{" "}

## The verification page

verify-title = Verify a diploma
verify-lead = Type the control key printed on the attestation and the holder's surname at birth (or usual surname). The check only concerns the attestation whose key the holder gave you.
verify-lead-qr = The attestation's control key is already filled in: type the holder's surname at birth (or usual surname) as printed on the attestation, then verify.
verify-help-link = Help for verifiers
result-valid = Valid attestation
result-invalid = No valid attestation
result-invalid-text = No valid attestation matches this key and this name (checked on { $date }). Check what you typed; if in doubt, ask the holder for a new key or contact the exam office of the académie that awarded the diploma.
label-holder = Holder
label-born = Date of birth
label-diploma = Diploma
label-speciality = Speciality
label-mention = Honours (mention)
label-session = Session (year of the exam)
label-academie = Académie (education authority)
label-issuer = Result held by (issuer)
label-deliberation = Date of the jury's decision
label-checked = Checked on
holder-usage-name = usual surname { $name }
field-key = Control key
hint-key = 8 characters, digits and letters (never U), for example 7K3M 9QXR
field-name = Holder's surname at birth (or usual surname)
field-birth = Holder's date of birth
hint-birth = Optional, unless you are asked for it. As dd/mm/yyyy, as printed on the attestation.
field-organisation = Your organisation
hint-organisation = Optional. The holder will see that a check was made, and by whom if you say.
button-verify = Verify
err-key = Control key: it has 8 characters, digits and letters; the letter U is never one of them (I and L read as 1, and O as 0).
err-name = Holder's name: type their surname at birth or usual surname (80 characters at most).
err-organisation = Your organisation: 120 characters at most, without control or invisible characters.
err-birth-required = Holder's date of birth: many wrong names were tried with this key today; type the date of birth too, as printed on the attestation.
err-birth-unreadable = Holder's date of birth: type it as dd/mm/yyyy (optional, unless you are asked for it).

## Checking a document

file-title = Check an attestation file
file-lead = Every PDF attestation is electronically signed by this service. Send the file you received: the service says whether it is exactly as it was issued. Only the key check above says whether the attestation is still valid.
field-file = Attestation PDF file
hint-file = A PDF file of 5 MB at most. It is not kept.
button-file = Check the file
file-keys-note = The public signing keys are published at
file-keys-api = the API
file-keys-docs = documentation
file-keys-end = checks an uploaded file too.
file-demo-strong = Demonstration document:
file-demo = signed by a demonstration key, it has no value.
file-key-carried = Its control key, { $key }, has been copied into the form above: type the holder's name and verify.
verdict-intact-title = Intact file
verdict-intact = The file is intact and signed by this service. Verify its key online with the holder's name: only that check says whether it is still valid.
verdict-altered-title = Modified file
verdict-altered = The file was modified after it was issued: do not rely on its content.
verdict-unknown-key-title = Unknown signature
verdict-unknown-key = Signed by a key this service does not know.
verdict-forged-title = Forged document
verdict-forged = The signature does not match the content: forged document.
verdict-not-attestation-title = Not an attestation
verdict-not-attestation = This file is not an attestation of this service.
err-file-missing = File: choose the attestation's PDF file.
err-file-empty = File: the chosen file is empty.
err-file-too-large = File: { $megabytes } MB at most (an attestation is far smaller).

## Help for verifiers

verifier-help-title = Help for verifiers
verifier-help-what-title = What a check tells you
verifier-help-what = An attestation from this service carries an 8-character control key. With that key and the holder's surname at birth (or usual surname), the verification page says whether the attestation is valid today and shows the diploma: holder, date of birth, diploma, session, académie, date of the jury's decision. It shows nothing else about the holder.
verifier-help-how-title = How to verify
verifier-help-how-1 = Ask the holder for their attestation (the PDF or a paper copy): the key is printed on it, with a QR code that opens the verification page with the key filled in.
verifier-help-how-2 = Type the key and the holder's surname at birth (or usual surname) as printed on the attestation; accents, capitals and hyphens do not matter.
verifier-help-how-3 = Give your organisation if you wish: the holder sees who checked their attestation.
verifier-help-invalid-title = "No valid attestation"
verifier-help-invalid = The key or the name does not match, the holder changed their key (the old one no longer works), deleted the attestation, or the exam office withdrew the result. Check what you typed, then ask the holder for a new key; if in doubt, contact the exam office of the académie that awarded the diploma.
verifier-help-file-title = Checking the file
verifier-help-file = Every PDF is signed by this service: the verification page checks a file you received and says whether it is exactly as it was issued. An intact file may nevertheless no longer be valid: only the key check says so.
verifier-help-api-title = Verifying in bulk
verifier-help-api = The JSON API verifies one key or a batch of keys and checks a file; its messages follow the language asked for (Accept-Language header).
verifier-help-limits-title = Limits
verifier-help-limits = The number of checks is limited per address and per key, so that keys cannot be guessed. If many wrong names are tried with a key in one day, the holder's date of birth is asked too.

## Error pages and the API's error messages

error-not-found-title = Page not found
error-not-found = The address asked for does not exist, or no longer does. Check it, or start again from the home page.
error-no-such-diploma-title = Diploma not found
error-no-such-diploma = No diploma with this number in your profile: it may have been deleted. Start again from your space.
error-withdrawn-title = Attestation withdrawn
error-withdrawn = The exam office withdrew this result: no attestation can be produced any more. Contact it to know more.
error-method-title = Method not allowed
error-method = This address does not answer this HTTP method (see the Allow header).
error-bad-request-title = Request not understood
error-bad-request = Your request is incomplete or malformed. Go back to the previous page and try again.
error-csrf-title = Form expired
error-csrf = This form has expired or does not come from this site. Reload the page, then send it again.
error-too-large-title = Too large
error-too-large = What you sent is larger than accepted.
error-too-many-title = Too many requests
error-too-many-verifications = Too many checks: wait before trying again.
error-too-many-attachments = Too many attachment attempts: try again later.
error-too-many-file-checks = Too many file checks: wait before trying again.
error-too-many-requests = You made many requests in a short time. Wait a few minutes before trying again.
error-unavailable-title = Service temporarily unavailable
error-unavailable = The service cannot answer right now. Try again in a few minutes: nothing you had already saved is lost.
error-sign-in-title = Sign-in needed
error-sign-in = Sign in first.
error-unexpected-title = Unexpected error
error-unexpected = An unexpected error prevents us from answering. Try again later; if it persists, give the support the request number below.
error-request-id = request number:
error-home = Back to the home page
error-invalid-request = Invalid request: { $reason }
api-birth-date-invalid = date_naissance: give a date that exists, as YYYY-MM-DD.
api-batch-limit = Verification limit reached: try again later.

## A share link, as its recipient opens it

shared-title = Diploma shared by its holder
shared-lead = The holder of this diploma sent you this share link. The service has just checked the attestation: it is valid.
shared-for = Share link created by the holder for “{ $label }”, valid until { $date } inclusive.
shared-key-note = You can also check an attestation with its control key:
shared-invalid = Share link not valid
shared-invalid-text = This share link does not work or no longer works: its address is incomplete, it has expired, its holder revoked it, or the attestation is no longer valid. Ask the diploma's holder for a new link, or check their attestation with its control key.

## The verifier's receipt

receipt-pdf = Download the receipt (PDF)
receipt-json = Signed receipt (JSON)
receipt-hint = The receipt, signed by the service, proves this verification: what was checked, when, for which organisation, and the answer. It can be checked offline with the service's published key.
