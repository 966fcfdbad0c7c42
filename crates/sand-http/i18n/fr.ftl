# SAND — the texts of the pages that also speak English (the verification space, its
# help, the page layout, error pages and the API's error messages). French is the
# reference; en.ftl holds the same messages, with the same variables.

## Layout

skip-link = Aller au contenu
demo-banner-label = Site de démonstration
demo-banner-strong = Site de démonstration.
demo-banner-text = Les données sont fictives ; ce n'est pas un service officiel et les attestations produites ici n'ont aucune valeur.
brand-tag = Attestations de diplômes
nav-label = Menu principal
nav-space = Espace diplômé
nav-verify = Vérifier un diplôme
nav-catalogue = Diplômes disponibles
nav-help = Aide
nav-sign-out = Se déconnecter
nav-sign-in = Se connecter
footer-about = { $operator } — service d'attestations numériques de diplômes.
footer-help = Aide
footer-offices = Services examens des académies
footer-legal = Mentions légales
footer-privacy = Données personnelles
footer-accessibility = Accessibilité : { $status }
footer-api = API pour les employeurs (documentation interactive Swagger, en anglais)
conformance-full = totalement conforme
conformance-partial = partiellement conforme
conformance-none = non conforme
error-title-prefix = Erreur :{" "}
language-switch-label = Langue
# the link to the other language, in that language
language-other = English
language-other-code = en
session-note-before = Sans activité, votre session se fermera à
session-note-after = (heure de Paris). Toute page ouverte la prolonge.
session-warning = Votre session va se fermer dans moins de 2 minutes faute d'activité ; ce que vous avez saisi et pas encore envoyé serait perdu.
session-stay = Rester connecté

## Form errors

errors-one = Le formulaire contient une erreur
errors-many = Le formulaire contient { $count } erreurs
error-hidden-prefix = Erreur :{" "}

## The verification page

verify-title = Vérifier un diplôme
verify-lead = Saisissez la clé de contrôle figurant sur l'attestation et le nom de naissance (ou le nom d'usage) de son titulaire. La vérification ne porte que sur l'attestation dont le titulaire vous a confié la clé.
verify-lead-qr = La clé de contrôle de l'attestation est déjà saisie : indiquez le nom de naissance (ou le nom d'usage) de son titulaire, tel qu'il figure sur l'attestation, puis vérifiez.
verify-help-link = Aide aux vérificateurs
result-valid = Attestation valide
result-invalid = Aucune attestation valide
result-invalid-text = Aucune attestation valide ne correspond à cette clé et à ce nom (vérifié le { $date }). Vérifiez la saisie ; si le doute persiste, demandez au titulaire une nouvelle clé ou contactez le service des examens de l'académie qui a délivré le diplôme.
label-holder = Titulaire
label-born = Né(e) le
label-diploma = Diplôme
label-speciality = Spécialité
label-mention = Mention
label-session = Session
label-academie = Académie
label-issuer = Résultat tenu par
label-deliberation = Date de délibération
label-checked = Vérifié le
holder-usage-name = nom d'usage { $name }
field-key = Clé de contrôle
hint-key = 8 caractères, chiffres et lettres (jamais de U), par exemple 7K3M 9QXR
field-name = Nom de naissance (ou nom d'usage) du titulaire
field-birth = Date de naissance du titulaire
hint-birth = Facultative, sauf si elle vous est demandée. Au format jj/mm/aaaa, telle qu'elle figure sur l'attestation.
field-organisation = Votre organisme
hint-organisation = Facultatif. Le titulaire verra qu'une vérification a été faite, par qui si vous l'indiquez.
button-verify = Vérifier
err-key = Clé de contrôle : elle compte 8 caractères, chiffres et lettres ; la lettre U n'en fait jamais partie (I et L se lisent 1, et O se lit 0).
err-name = Nom du titulaire : indiquez son nom de naissance ou son nom d'usage (80 caractères au plus).
err-organisation = Votre organisme : 120 caractères au plus, sans caractère de contrôle ni caractère invisible.
err-birth-required = Date de naissance du titulaire : de nombreux noms erronés ont été essayés aujourd'hui avec cette clé ; indiquez aussi la date de naissance, telle qu'elle figure sur l'attestation.
err-birth-unreadable = Date de naissance du titulaire : indiquez-la au format jj/mm/aaaa (facultative, sauf si elle vous est demandée).

## Checking a document

file-title = Contrôler un fichier d'attestation
file-lead = Chaque attestation PDF est signée électroniquement par ce service. Envoyez le fichier reçu : le service dit s'il est exactement tel qu'il a été produit. Seule la vérification de la clé, ci-dessus, dit si l'attestation est encore valide.
field-file = Fichier PDF de l'attestation
hint-file = Un fichier PDF de 5 Mo au plus. Il n'est pas conservé.
button-file = Contrôler le fichier
file-keys-note = Les clés publiques de signature sont publiées à l'adresse
file-keys-api = l'API
file-keys-docs = documentation
file-keys-end = contrôle aussi un fichier envoyé.
file-demo-strong = Document de démonstration :
file-demo = signé par une clé de démonstration, il n'a aucune valeur.
file-key-carried = Sa clé de contrôle, { $key }, est reportée dans le formulaire ci-dessus : indiquez le nom du titulaire et vérifiez.
verdict-intact-title = Fichier intact
verdict-intact = Le fichier est intact et signé par ce service. Vérifiez en ligne sa clé avec le nom du titulaire : seule cette vérification dit s'il est encore valide.
verdict-altered-title = Fichier modifié
verdict-altered = Le fichier a été modifié après sa production : ne vous fiez pas à son contenu.
verdict-unknown-key-title = Signature inconnue
verdict-unknown-key = Signé par une clé que ce service ne connaît pas.
verdict-forged-title = Document falsifié
verdict-forged = La signature ne correspond pas au contenu : document falsifié.
verdict-not-attestation-title = Pas une attestation
verdict-not-attestation = Ce fichier n'est pas une attestation de ce service.
err-file-missing = Fichier : choisissez le fichier PDF de l'attestation.
err-file-empty = Fichier : le fichier choisi est vide.
err-file-too-large = Fichier : { $megabytes } Mo au plus (une attestation en fait bien moins).

## Help for verifiers

verifier-help-title = Aide aux vérificateurs
verifier-help-what-title = Ce que dit une vérification
verifier-help-what = Une attestation de ce service porte une clé de contrôle de 8 caractères. Avec cette clé et le nom de naissance (ou le nom d'usage) du titulaire, la page de vérification dit si l'attestation est valide aujourd'hui et montre le diplôme : titulaire, date de naissance, diplôme, session, académie, date de délibération. Elle ne montre rien d'autre du titulaire.
verifier-help-how-title = Comment vérifier
verifier-help-how-1 = Demandez au titulaire son attestation (le PDF ou une copie papier) : la clé y figure, avec un code QR qui ouvre la page de vérification, clé déjà saisie.
verifier-help-how-2 = Saisissez la clé et le nom de naissance (ou le nom d'usage) du titulaire tel qu'il figure sur l'attestation ; les accents, les majuscules et les traits d'union ne comptent pas.
verifier-help-how-3 = Indiquez votre organisme si vous le souhaitez : le titulaire voit qui a vérifié son attestation.
verifier-help-invalid-title = « Aucune attestation valide »
verifier-help-invalid = La clé ou le nom ne correspondent pas, le titulaire a changé sa clé (l'ancienne ne fonctionne plus), a supprimé l'attestation, ou le service des examens a retiré le résultat. Vérifiez la saisie, puis demandez au titulaire une nouvelle clé ; en cas de doute, contactez le service des examens de l'académie qui a délivré le diplôme.
verifier-help-file-title = Contrôler le fichier
verifier-help-file = Chaque PDF est signé par ce service : la page de vérification contrôle un fichier reçu et dit s'il est exactement tel qu'il a été produit. Un fichier intact peut néanmoins ne plus être valide : seule la vérification de la clé le dit.
verifier-help-api-title = Vérifier en nombre
verifier-help-api = L'API JSON vérifie une clé ou un lot de clés et contrôle un fichier ; ses messages suivent la langue demandée (en-tête Accept-Language).
verifier-help-limits-title = Limites
verifier-help-limits = Le nombre de vérifications est limité par adresse et par clé, pour qu'on ne puisse pas deviner des clés. Si de nombreux noms erronés sont essayés avec une clé dans la journée, la date de naissance du titulaire est aussi demandée.

## Error pages and the API's error messages

error-not-found-title = Page introuvable
error-not-found = L'adresse demandée n'existe pas ou plus. Vérifiez-la, ou repartez de l'accueil.
error-no-such-diploma-title = Diplôme introuvable
error-no-such-diploma = Aucun diplôme de ce numéro dans votre profil : il a peut-être été supprimé. Repartez de votre espace.
error-withdrawn-title = Attestation retirée
error-withdrawn = Le service des examens a retiré ce résultat : aucune attestation ne peut plus être produite. Contactez-le pour en savoir plus.
error-method-title = Méthode non autorisée
error-method = Cette adresse ne répond pas à cette méthode HTTP (voir l'en-tête Allow).
error-bad-request-title = Demande incomprise
error-bad-request = Votre demande est incomplète ou mal formée. Revenez à la page précédente et réessayez.
error-csrf-title = Formulaire expiré
error-csrf = Ce formulaire a expiré ou ne vient pas de ce site. Rechargez la page, puis envoyez-le de nouveau.
error-too-large-title = Envoi trop volumineux
error-too-large = Ce que vous avez envoyé dépasse la taille acceptée.
error-too-many-title = Trop de demandes
error-too-many-verifications = Trop de vérifications : patientez avant de réessayer.
error-too-many-attachments = Trop de tentatives de rattachement : réessayez plus tard.
error-too-many-file-checks = Trop de contrôles de fichiers : patientez avant de réessayer.
error-too-many-requests = Vous avez fait beaucoup de demandes en peu de temps. Patientez quelques minutes avant de réessayer.
error-unavailable-title = Service momentanément indisponible
error-unavailable = Le service ne peut pas répondre pour l'instant. Réessayez dans quelques minutes : rien de ce que vous aviez déjà enregistré n'est perdu.
error-sign-in-title = Connexion nécessaire
error-sign-in = Connectez-vous d'abord.
error-unexpected-title = Erreur inattendue
error-unexpected = Une erreur inattendue nous empêche de répondre. Réessayez plus tard ; si elle persiste, indiquez au support le numéro de demande ci-dessous.
error-request-id = numéro de demande :
error-home = Retour à l'accueil
error-invalid-request = Demande invalide : { $reason }
api-birth-date-invalid = date_naissance : indiquez une date qui existe, au format AAAA-MM-JJ.
api-batch-limit = Limite de vérifications atteinte : réessayez plus tard.

## A share link, as its recipient opens it

shared-title = Diplôme partagé par son titulaire
shared-lead = Le titulaire de ce diplôme vous a transmis ce lien de partage. Le service a vérifié l'attestation à l'instant : elle est valide.
shared-for = Lien de partage créé par le titulaire pour « { $label } », valable jusqu'au { $date } inclus.
shared-key-note = Vous pouvez aussi vérifier une attestation avec sa clé de contrôle :
shared-invalid = Lien de partage non valide
shared-invalid-text = Ce lien de partage ne fonctionne pas ou plus : son adresse est incomplète, il a expiré, son titulaire l'a révoqué, ou l'attestation n'est plus valide. Demandez un nouveau lien au titulaire du diplôme, ou vérifiez son attestation avec sa clé de contrôle.

## The verifier's receipt

receipt-pdf = Télécharger le reçu (PDF)
receipt-json = Reçu signé (JSON)
receipt-hint = Le reçu, signé par le service, prouve cette vérification : ce qui a été vérifié, quand, pour quel organisme, et la réponse. Il se contrôle hors ligne avec la clé publiée du service.
