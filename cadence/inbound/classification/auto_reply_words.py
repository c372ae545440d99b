"""What auto replies say, in the languages prospects write in.

The subject and body wording that marks out-of-office notices, autoresponders, helpdesk
acknowledgements and "no longer with the company" notices, for English, German, French,
Spanish, Dutch, Portuguese, Italian, Polish, the Nordic and Baltic languages, Czech and
Slovak, Russian and Ukrainian, Turkish, Japanese, Chinese and a few more subjects. Kept
apart from auto_reply.py, which decides how much each sign weighs.
"""

from __future__ import annotations

import re

SUBJECT = re.compile(
    r"auto(?:matic|mated)?[ -]?(?:reply|response|answer)|autoreply|autoresponse|out of (?:the )?"
    r"office|\booo\b|away from (?:the |my )?office|on (?:vacation|holiday|leave|annual leave)|"
    r"vacation (?:reply|response|notice)|annual leave|parental leave|maternity leave|"
    r"is out of the office|abwesenheit|automatische antwort|nicht im büro|außer haus|"
    r"ausser haus|urlaub|réponse automatique|reponse automatique|absence|absent(?:e)? du bureau|"
    r"message d'absence|en congé|respuesta automática|respuesta automatica|fuera de la oficina|"
    r"fuera de oficina|ausente|automatisch antwoord|afwezig|niet aanwezig|buiten kantoor|"
    r"afwezigheid|resposta automática|resposta automatica|fora do escritório|ausência|"
    r"risposta automatica|fuori (?:sede|ufficio)|assente|assenza|odpowiedź automatyczna|"
    r"automatyczna odpowiedź|autoodpowiedź|poza biurem|nieobecnoś|automatiskt svar|frånvaro|"
    r"autosvar|fravær|automatisk svar|automaattinen vastaus|automatická odpověď|"
    r"mimo kancelář|otomatik yanıt|ofis dışında|автоответ|автоматический ответ|"
    r"自動応答|自动回复|自動回覆|不在|automatikus válasz|răspuns automat|"
    r"autom[aā]tisk[aā] atbilde|[aā]rpus biroja|promb[uū]tn|atva[lļ]in[aā]jum|"
    r"odpowied[zź] automatyczna|automatyczna odpowied[zź]|automatick[aá] odpov[eě][dď]|"
    r"otomatik yan[ıi]t|automaticky odpoved|automatinis atsakymas|automaatvastus|"
    r"automatická odpoveď|samodejni odgovor|automatski odgovor|автоматичен отговор|"
    r"автовідповідь|αυτόματη απάντηση|자동 ?응답|부재|自動返信|不在通知|休假|trả lời tự động|"
    r"balasan otomatis|رد تلقائي|תשובה אוטומטית|fraværende|frånvarande|poissaolo|"
    r"\[request received\]|(?:ticket|request) received|thank(?:s| you) for contacting|"
    r"we(?:'ve| have) received your (?:e-?mail|message|request)",
    re.I,
)
AUTOMATED_BODY = re.compile(
    r"this is an? auto(?:matic(?:ally generated)?|mated|-generated)? ?(?:reply|response|"
    r"message|e-?mail|notification|answer)|this (?:e-?mail|message) (?:was|is|has been) "
    r"(?:automatically generated|sent automatically)|do not reply to this (?:e-?mail|message)|"
    r"(?:mailbox|inbox|address) is (?:not|no longer) (?:monitored|active|in use)|"
    r"automatische antwort|automatisch generiert|réponse automatique|message automatique|"
    r"respuesta automática|mensaje automático|automatisch (?:antwoord|gegenereerd)|"
    r"resposta automática|mensagem automática|risposta automatica|messaggio automatico|"
    r"odpowiedź automatyczna|wiadomość (?:wygenerowana )?automatyczn|"
    r"automātiski (?:ģenerēt|sūtīt)|automatiskt (?:genererat|svar)|automatisk (?:genereret|"
    r"svar)|automaattinen viesti|automaticky generovan|автоматическое сообщение|"
    r"сообщение (?:сгенерировано|отправлено) автоматически|otomatik (?:olarak )?(?:gönderil|"
    r"oluşturul)|自動(?:送信|返信)|自动(?:发送|回复)",
    re.I,
)
OUT_OF_OFFICE = re.compile(
    r"(?:i am|i'm|i will be|i'll be|i am currently|i'm currently) (?:currently )?"
    r"(?:out of (?:the )?office|away|on (?:vacation|holiday|leave|annual leave|parental leave|"
    r"maternity leave|paternity leave|sick leave|a business trip|business travel)|traveling|"
    r"travelling|out of town|off (?:work|until)|not in the office|unavailable)|"
    r"out of (?:the )?office (?:until|through|from|and|with|on)|limited access to (?:my )?e-?mail|"
    r"(?:upon|on) my return|when i (?:get back|return)|respond (?:to your (?:e-?mail|message) )?"
    r"(?:as soon as possible )?(?:upon|when|after) (?:my|i) return|"
    r"ich bin (?:derzeit |zurzeit |momentan |aktuell |bis )?.{0,40}?(?:nicht im büro|abwesend|"
    r"im urlaub|außer haus|ausser haus|nicht erreichbar)|nach meiner rückkehr|"
    r"je suis (?:actuellement )?(?:absent|en congé|en vacances|en déplacement)|"
    r"je serai (?:absent|de retour)|dès mon retour|à mon retour|"
    r"estoy (?:actualmente )?(?:fuera de la oficina|de vacaciones|ausente|fuera)|"
    r"a mi regreso|a mi vuelta|"
    r"ik ben (?:momenteel |op dit moment |tot .{0,30})?(?:afwezig|niet aanwezig|met vakantie|"
    r"op vakantie|buiten kantoor)|na mijn terugkomst|"
    r"estou (?:atualmente )?(?:fora do escritório|de férias|ausente|fora)|no meu regresso|"
    r"quando eu (?:voltar|retornar)|"
    r"sono (?:attualmente )?(?:fuori (?:ufficio|sede)|in ferie|assente|in vacanza)|"
    r"al mio rientro|"
    r"jestem (?:obecnie |aktualnie )?(?:poza biurem|na urlopie|nieobecn)|po moim powrocie|"
    r"esmu (?:atvaļinājumā|prombūtnē|komandējumā|slimības)|neesmu birojā|"
    r"atgriezīšos (?:birojā|darbā|\d)|"
    r"(?:przebywam|jestem) (?:na urlopie|poza biurem|na zwolnieniu|w podróży)|"
    r"ograniczony(?:m)? dost[eę]p(?:em)? do poczty|"
    r"jag är (?:på semester|ledig|tjänstledig|borta|inte på kontoret|föräldraledig)|"
    r"jag är tillbaka|(?:jeg|jég) er (?:på ferie|ikke på kontoret|fraværende|ikke til stede|"
    r"på barsel)|(?:jeg|jég) er tilbake|(?:jeg|jég) er tilbage|efter min hjemkomst|"
    r"når jeg er tilbake|"
    r"olen (?:lomalla|poissa|matkoilla|vapaalla)|palaan (?:töihin|toimistolle|lomalta)|"
    r"jsem (?:mimo kancelář|na dovolené|nepřítomn)|vrátím se (?:do kanceláře|z dovolené|\d)|"
    r"som (?:mimo kancelárie|na dovolenke)|"
    r"(?:я|нахожусь) (?:в отпуске|в командировке|вне офиса)|буду отсутствовать|"
    r"не (?:имею доступа|буду иметь доступа) к (?:почте|электронной почте)|"
    r"перебуваю у відпустці|я у відпустці|"
    r"izindeyim|ofis dışındayım|tatildeyim|izinli olacağım|"
    r"不在にしております|休暇(?:のため|中)|出張(?:のため|中)|不在です|"
    r"我(?:正在|目前)?(?:休假|出差|不在办公室)|休假中|将于.{1,12}返回|"
    r"estarei (?:fora|ausente|de férias)|estou de férias|"
    r"estaré (?:fuera|ausente|de vacaciones)|"
    r"szabadságon vagyok|házon kívül|sunt în concediu|είμαι εκτός γραφείου|부재중",
    re.I,
)
LEFT_COMPANY = re.compile(
    r"(?:is|am|are) no longer (?:with|at|employed|working|part of)|"
    r"(?:has|have) left (?:the company|the organi[sz]ation|[A-Z])|"
    r"nicht mehr (?:im unternehmen|bei |für |tätig)|(?:hat|habe) das unternehmen verlassen|"
    r"ne fait plus partie|(?:a|ai) quitté|ya no (?:trabaja|forma parte|está en)|"
    r"werkt niet meer|não (?:faz parte|trabalha mais)|non (?:lavora|fa) più|"
    r"nie pracuje już|już nie pracuje|"
    r"vairs nestrādā|już nie pracuję|slutat (?:på|hos)|arbejder ikke længere|"
    r"jobber ikke lenger|ei (?:enää )?työskentele|již nepracuje|больше не работает|"
    r"artık (?:çalışmıyor|burada değil)",
)
TICKET = re.compile(
    r"we (?:have|'ve) received your (?:request|e-?mail|message|inquiry|enquiry)|"
    r"(?:ticket|case|request) (?:number|#|id)|thank you for contacting|thanks for contacting|"
    r"your (?:request|ticket|message|e-?mail|inquiry|enquiry)(?: \(?#?\d+\)?)? (?:has been|was|is) "
    r"(?:received|logged|created)|a ticket has been (?:created|opened)|"
    r"acknowledge that we have received|(?:reply|type your reply) above this line|"
    r"(?:one of our|a member of our) (?:team(?: members)?|staff|agents?) will|"
    r"(?:support|sales|customer service) (?:staff|team) will|"
    r"(?:inbox|mailbox) is monitored|(?:get back to|respond to) you within",
    re.I,
)
